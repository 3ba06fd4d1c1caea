package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// smallDisk mounts a tmpfs of size bytes for the test (root only).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return dir
}

// fillUp writes a file at path until the file system is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// health is /healthz's status and body.
func health(t *testing.T, url string) (int, wire.Health) {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h wire.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h
}

// postBig posts a batch of events large enough to need new pages.
func postBig(t *testing.T, url string) (int, string) {
	t.Helper()
	ev := `{"tags":["disk"],"value":{"pad":"` + strings.Repeat("x", 2000) + `"}}`
	body := "[" + strings.Repeat(ev+",", 199) + ev + "]"
	resp, err := http.Post(url+"/api/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestFullDisk: with the data directory's file system full, writes answer
// 507 without the data path, /healthz says the store is failing, and both
// recover by themselves once space is freed.
func TestFullDisk(t *testing.T) {
	disk := smallDisk(t, "8m")
	data := filepath.Join(disk, "data")
	p := startBinary(t, data, "--host", noEngine)
	if status, body := postBig(t, p.URL); status != http.StatusCreated {
		t.Fatalf("POST on a disk with room: %d %s", status, body)
	}
	filler := filepath.Join(disk, "filler")
	fillUp(t, filler)

	status, body := 0, ""
	for range 20 { // the file's slack takes a few batches
		if status, body = postBig(t, p.URL); status != http.StatusCreated {
			break
		}
	}
	if status != http.StatusInsufficientStorage {
		t.Fatalf("POST on a full disk: %d %s, want 507", status, body)
	}
	if strings.Contains(body, disk) {
		t.Errorf("the 507 body shows the data path: %s", body)
	}
	if code, h := health(t, p.URL); code != http.StatusServiceUnavailable || h.Store.OK || h.Store.Error == "" {
		t.Errorf("/healthz on a full disk: %d %+v, want 503 with the store failing", code, h)
	} else if strings.Contains(h.Store.Error, disk) {
		t.Errorf("/healthz shows the data path: %s", h.Store.Error)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, h := health(t, p.URL)
		if code == http.StatusOK && h.Store.OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz after space was freed: %d %+v", code, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, body := postBig(t, p.URL); status != http.StatusCreated {
		t.Fatalf("POST once space was freed: %d %s", status, body)
	}
}
