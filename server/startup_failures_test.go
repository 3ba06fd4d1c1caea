package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// exitWithin is how long a failing start may take before the test calls
// it a hang: far more than any start-up step needs, far less than "for ever".
const exitWithin = 30 * time.Second

// exited is how a binary run that was expected to fail ended.
type exited struct {
	code   int
	stderr string
}

// runToExit runs the binary with args until it exits, failing the test if
// it is still running after exitWithin.
func runToExit(t *testing.T, args ...string) exited {
	t.Helper()
	return runCmdToExit(t, exec.Command(crowsnestBinary(t), args...))
}

// runToExitAsNobody is runToExit as nobody when the test runs as root, so
// a file mode can make a file unreadable to the binary.
func runToExitAsNobody(t *testing.T, args ...string) exited {
	t.Helper()
	if os.Geteuid() != 0 {
		return runToExit(t, args...)
	}
	cmd := exec.Command(nobodyCopy(t, crowsnestBinary(t)), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	return runCmdToExit(t, cmd)
}

// runCmdToExit runs cmd, which is expected to fail, and returns how it
// ended; it kills a cmd still running after exitWithin.
func runCmdToExit(t *testing.T, cmd *exec.Cmd) exited {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hung := time.AfterFunc(exitWithin, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	t.Logf("crowsnest %s:\n%s", strings.Join(cmd.Args[1:], " "), stderr.String())
	if !hung.Stop() {
		t.Fatalf("crowsnest still running %v after a failed start", exitWithin)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("crowsnest exited with %v, want a non-zero exit status", err)
	}
	return exited{code: ee.ExitCode(), stderr: stderr.String()}
}

// nobody is the user id the start-up tests run the binary as under root.
const nobody = 65534

// nobodyCopy links the binary into a directory nobody can enter (the
// build directory is private).
func nobodyCopy(t *testing.T, bin string) string {
	t.Helper()
	dir := nobodyDir(t)
	dst := filepath.Join(dir, "crowsnest")
	if err := os.Link(bin, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// nobodyDir is a fresh directory nobody owns (t.TempDir is private to root).
func nobodyDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "crowsnest-startup-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// unreadable puts an empty file at DATA/name that the binary cannot read
// (as root the test owns it, and the binary runs as nobody).
func unreadable(t *testing.T, data, name string) {
	t.Helper()
	path := filepath.Join(data, name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
}

// TestStartupFailuresExit: each way a start can fail ends the binary with
// a non-zero status and the cause on stderr, instead of hanging.
func TestStartupFailuresExit(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, data string) []string
		cause string // in stderr
	}{
		{"port in use", func(t *testing.T, data string) []string {
			return []string{"--addr", taken.Addr().String()}
		}, "address already in use"},
		{"unreadable history.db", func(t *testing.T, data string) []string {
			unreadable(t, data, "history.db")
			return nil
		}, "history.db: permission denied"},
		{"unreadable crowsnest.db", func(t *testing.T, data string) []string {
			unreadable(t, data, "crowsnest.db")
			return nil
		}, "crowsnest.db: permission denied"},
		{"bad TLS files", func(t *testing.T, data string) []string {
			junk := filepath.Join(data, "junk.pem")
			if err := os.WriteFile(junk, []byte("not a certificate"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"--tls-cert", junk, "--tls-key", junk}
		}, "junk.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(nobodyDir(t), "data")
			if err := os.Mkdir(data, 0o700); err != nil {
				t.Fatal(err)
			}
			if os.Geteuid() == 0 {
				if err := os.Chown(data, nobody, nobody); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"--addr", freeAddr(t), "--data", data, "--host", noEngine}, tc.setup(t, data)...)
			got := runToExitAsNobody(t, args...)
			if got.code == 0 {
				t.Fatal("exit status 0")
			}
			if !strings.Contains(got.stderr, tc.cause) {
				t.Fatalf("stderr does not name the cause %q:\n%s", tc.cause, got.stderr)
			}
		})
	}
}

// filledStore leaves in a fresh data directory a crowsnest.db and a
// history.db of many pages, written by the binary and closed cleanly.
func filledStore(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	p := startBinary(t, data, "--host", noEngine)
	value := strings.Repeat("x", 400)
	for batch := range 20 {
		var body strings.Builder
		body.WriteString("[")
		for i := range 100 {
			if i > 0 {
				body.WriteString(",")
			}
			fmt.Fprintf(&body, `{"tags":["damage","batch:%d"],"type":"t%d","value":{"pad":%q}}`, batch, i%7, value)
		}
		body.WriteString("]")
		resp, err := http.Post(p.URL+"/api/v1/events", "application/json", strings.NewReader(body.String()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %s", resp.Status)
		}
	}
	p.stop(t)
	return data
}

// stop ends the binary as a service manager would and checks it exited cleanly.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("crowsnest on SIGTERM: %v", err)
	}
}

// overwriteLeaf overwrites with random bytes a leaf page in the middle of
// the bbolt file at path (found read-only), as a bad disk or a stray
// write would.
func overwriteLeaf(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	var leaf int
	err = db.View(func(tx *bolt.Tx) error {
		pages := int(tx.Size() / int64(db.Info().PageSize))
		for id := pages / 2; id < pages; id++ {
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info != nil && info.Type == "leaf" {
				leaf = id
				return nil
			}
		}
		return errors.New("no leaf page in the second half")
	})
	pageSize := db.Info().PageSize
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, pageSize)
	rand.Read(junk)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(junk, int64(leaf*pageSize)); err != nil {
		t.Fatal(err)
	}
	t.Logf("overwrote page %d of %s", leaf, path)
}

// truncateHalf cuts the file at path to half its length.
func truncateHalf(t *testing.T, path string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, info.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedFilesRefusedUnwritten: a crowsnest.db or history.db with a
// page overwritten mid-file, or cut to half its length, stops the binary
// at start with a message naming the file and what to do, and the file
// is left exactly as it was found.
func TestDamagedFilesRefusedUnwritten(t *testing.T) {
	for _, tc := range []struct {
		name   string
		file   string
		damage func(t *testing.T, path string)
	}{
		{"crowsnest.db page overwritten", "crowsnest.db", overwriteLeaf},
		{"crowsnest.db truncated", "crowsnest.db", truncateHalf},
		{"history.db truncated", "history.db", truncateHalf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filledStore(t)
			path := filepath.Join(data, tc.file)
			tc.damage(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := runToExit(t, "--addr", freeAddr(t), "--data", data, "--host", noEngine)
			for _, want := range []string{path, "damaged", "restore it from a backup"} {
				if !strings.Contains(got.stderr, want) {
					t.Errorf("stderr does not say %q", want)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("the damaged %s was written to", tc.file)
			}
		})
	}
}

// TestSecondCrowsnestOnOneStore: a second crowsnest on a data directory in
// use says which process holds it.
func TestSecondCrowsnestOnOneStore(t *testing.T) {
	data := t.TempDir()
	first := startBinary(t, data, "--host", noEngine)
	got := runToExit(t, "--addr", freeAddr(t), "--data", data, "--host", noEngine)
	want := fmt.Sprintf("another crowsnest (pid %d) holds it", first.cmd.Process.Pid)
	if !strings.Contains(got.stderr, want) || !strings.Contains(got.stderr, "crowsnest.db") {
		t.Fatalf("stderr does not name the file and say %q", want)
	}
}
