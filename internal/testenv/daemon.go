package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Daemon is a private Docker engine a test may restart: its own dockerd (and
// the containerd it manages) with its own data, in a network namespace of
// its own, with no networking and the vfs storage driver, so it disturbs
// neither the shared engine nor the host. The namespace matters: a dockerd
// started with --bridge=none deletes the interface named docker0, which in
// the host's namespace is the shared engine's bridge.
type Daemon struct {
	tb     testing.TB
	dir    string
	socket string
	cmd    *exec.Cmd
	cli    *client.Client
}

// PrivateEngine starts a private engine for tb, stopped and removed when tb
// ends. Without dockerd it skips, or fails under CI=true.
func PrivateEngine(tb testing.TB) *Daemon {
	tb.Helper()
	Engine(tb) // the shared engine's checks first: same skip rules
	for _, tool := range []string{"dockerd", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			Unavailable(tb, "no %s to run a private engine: %v", tool, err)
		}
	}
	// A short path: a unix socket's must stay under ~108 bytes.
	dir, err := os.MkdirTemp("", "cn-engine-")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}"), 0o600); err != nil {
		tb.Fatal(err)
	}
	d := &Daemon{tb: tb, dir: dir, socket: filepath.Join(dir, "docker.sock")}
	d.Start()
	cli, err := client.New(client.WithHost(d.URL()))
	if err != nil {
		tb.Fatal(err)
	}
	d.cli = cli
	tb.Cleanup(func() {
		cli.Close()
		d.Stop()
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("private engine: removing %s: %v", dir, err)
		}
	})
	return d
}

// URL is the engine's address.
func (d *Daemon) URL() string { return "unix://" + d.socket }

// Client is a client of the engine.
func (d *Daemon) Client() *client.Client { return d.cli }

// Start runs dockerd and waits until it answers.
func (d *Daemon) Start() {
	d.tb.Helper()
	d.cmd = exec.Command("unshare", "--net", "--", "dockerd",
		"--config-file", filepath.Join(d.dir, "daemon.json"),
		"--data-root", filepath.Join(d.dir, "root"),
		"--exec-root", filepath.Join(d.dir, "exec"),
		"--pidfile", filepath.Join(d.dir, "dockerd.pid"),
		"--host", d.URL(),
		"--storage-driver", "vfs",
		"--bridge", "none", "--iptables=false", "--ip6tables=false",
		"--containerd-namespace", "crowsnest-test",
		"--containerd-plugins-namespace", "crowsnest-test-plugins",
	)
	log, err := os.Create(filepath.Join(d.dir, "dockerd.log"))
	if err != nil {
		d.tb.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		log.Close()
		d.tb.Fatalf("private engine: %v", err)
	}
	log.Close()
	cli, err := client.New(client.WithHost(d.URL()))
	if err != nil {
		d.tb.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Ping(ctx, client.PingOptions{})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			d.Stop()
			out, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
			d.tb.Fatalf("private engine did not answer: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends dockerd as an administrator would (SIGTERM), and waits.
func (d *Daemon) Stop() {
	if d.cmd == nil || d.cmd.ProcessState != nil {
		return
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		d.tb.Errorf("stopping the private engine: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
}

// Restart stops dockerd and starts it again on the same data: the engine
// keeps its containers and forgets its events.
func (d *Daemon) Restart() {
	d.tb.Helper()
	d.Stop()
	d.Start()
}

// String names the engine in messages.
func (d *Daemon) String() string { return fmt.Sprintf("private engine at %s", d.URL()) }
