package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
// it is still running after exitWithin. As root it runs as nobody, so a
// file mode can make a file unreadable to it.
func runToExit(t *testing.T, args ...string) exited {
	t.Helper()
	bin := crowsnestBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), exitWithin)
	defer cancel()
	if os.Geteuid() == 0 {
		bin = nobodyCopy(t, bin)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	t.Logf("crowsnest %s:\n%s", strings.Join(args, " "), stderr.String())
	if ctx.Err() != nil {
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
			got := runToExit(t, args...)
			if got.code == 0 {
				t.Fatal("exit status 0")
			}
			if !strings.Contains(got.stderr, tc.cause) {
				t.Fatalf("stderr does not name the cause %q:\n%s", tc.cause, got.stderr)
			}
		})
	}
}
