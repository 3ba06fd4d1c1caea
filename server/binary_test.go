package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// crowsnestBinary builds the real binary once per test process, static as
// the release build is, so the image test can put the same file in a
// scratch image.
func crowsnestBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crowsnest-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "crowsnest")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", binaryPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// process is the real binary running as a child process.
type process struct {
	t   testing.TB
	URL string
	cmd *exec.Cmd
}

// startBinary runs the binary on a free loopback port with data and args,
// and waits until it answers /healthz.
func startBinary(t testing.TB, data string, args ...string) *process {
	t.Helper()
	return startBinaryAt(t, freeAddr(t), data, args...)
}

// startBinaryAt is startBinary on a given address, to restart a killed
// server where its clients look for it.
func startBinaryAt(t testing.TB, addr, data string, args ...string) *process {
	t.Helper()
	all := append([]string{"--addr", addr, "--data", data, "--log-level", "warn"}, args...)
	cmd := exec.Command(crowsnestBinary(t), all...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log("crowsnest:", sc.Text())
		}
	}()
	p := &process{t: t, URL: "http://" + addr, cmd: cmd}
	t.Cleanup(p.kill)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("crowsnest binary did not answer on %s", addr)
	return nil
}

// kill ends the process with SIGKILL, as a crash or power loss would.
func (p *process) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Errorf("kill crowsnest: %v", err)
	}
	_ = p.cmd.Wait() // the exit status of a killed process is the expected "signal: killed"
}

// rss is the process's resident set size in bytes, from /proc.
func (p *process) rss(t testing.TB) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}
