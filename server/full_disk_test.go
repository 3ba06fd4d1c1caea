package main

import (
	"context"
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

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
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
	return postPadded(t, url, 200, 2000)
}

// postPadded posts n events with values of about pad bytes.
func postPadded(t *testing.T, url string, n, pad int) (int, string) {
	t.Helper()
	ev := `{"tags":["disk"],"value":{"pad":"` + strings.Repeat("x", pad) + `"}}`
	body := "[" + strings.Repeat(ev+",", n-1) + ev + "]"
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

// binaryHost polls the binary's /api/v1/hosts until the named engine is
// in state, failing the test after d.
func binaryHost(t *testing.T, url, name, state string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var hosts []wire.Host
		resp, err := http.Get(url + "/api/v1/hosts")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&hosts)
			resp.Body.Close()
		}
		for _, h := range hosts {
			if h.Name == name && h.State == state {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s not %s after %v: %+v %v", name, state, d, hosts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recordOf is the events of the binary's store matching query.
func recordOf(t *testing.T, url, query string) []wire.Event {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/events?per_page=1000&" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []wire.Event
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

// exhaust posts ever smaller batches until even one small event finds no
// page left: the store file's own free pages can take small commits after
// its file system is full.
func exhaust(t *testing.T, url string) {
	t.Helper()
	for _, b := range []struct{ n, pad int }{{200, 2000}, {20, 200}, {1, 10}} {
		for i := 0; ; i++ {
			status, body := postPadded(t, url, b.n, b.pad)
			if status == http.StatusInsufficientStorage {
				break
			}
			if status != http.StatusCreated || i == 1000 {
				t.Fatalf("filling the store: %d %s", status, body)
			}
		}
	}
}

// TestFullDiskBeforeFirstEngineEvent: a brand-new store fills up before
// the first engine event is stored, and crowsnest restarts before space is
// freed. Once there is space again the record holds the events the first
// process could not store (the engine still remembers them), or a gap
// says the record misses them; never neither.
func TestFullDiskBeforeFirstEngineEvent(t *testing.T) {
	eng := testenv.Engine(t)
	testenv.ShareEngineMemory(t)
	image := testenv.HelperImage(t)
	key, value := testenv.Label(t)
	disk := smallDisk(t, "8m")
	data := filepath.Join(disk, "data")
	addr := freeAddr(t)

	first := startBinaryAt(t, addr, data)
	binaryHost(t, first.URL, docker.DefaultHostName, wire.HostConnected, 30*time.Second)
	filler := filepath.Join(disk, "filler")
	fillUp(t, filler)
	exhaust(t, first.URL)
	name := "crowsnest-fulldisk-" + value
	ctx := context.Background()
	res, err := eng.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   name,
		Config: &container.Config{Image: image, Labels: map[string]string{key: value}, Cmd: []string{"-exit", "0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the first crowsnest tries, and fails, to store them
	if stored := recordOf(t, first.URL, "tag=container:"+name); len(stored) > 0 {
		t.Fatalf("the full disk did not keep the first crowsnest from storing %d events", len(stored))
	}
	first.stop(t)

	second := startBinaryAt(t, addr, data)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		stored := recordOf(t, second.URL, "type=container&tag=container:"+name)
		gaps := recordOf(t, second.URL, "type=gap&tag=host:"+docker.DefaultHostName)
		if len(stored) >= 2 || len(gaps) > 0 {
			t.Logf("stored %d events of the container, %d gaps", len(stored), len(gaps))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after space was freed, neither the container's events (%d stored) nor a gap are in the record", len(stored))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
