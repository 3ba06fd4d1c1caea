package testenv

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// echoProxy puts a Proxy in front of a line echo server, so the proxy's
// modes can be checked byte for byte without an engine.
func echoProxy(t *testing.T) *Proxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "cn-echo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "echo.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c) // echo until the proxy hangs up
			}()
		}
	}()
	// Registered before NewProxy, so it runs after the proxy has closed.
	t.Cleanup(func() { _ = ln.Close(); <-done })
	c, err := client.New(client.WithHost("unix://" + path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return NewProxy(t, c)
}

// echoConn is one client connection through the proxy.
type echoConn struct {
	net.Conn
	lines chan string
	ended chan error
}

func dialEcho(t *testing.T, p *Proxy) *echoConn {
	t.Helper()
	c, err := net.Dial("unix", strings.TrimPrefix(p.URL(), "unix://"))
	if err != nil {
		t.Fatalf("dial %s: %v", p, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	e := &echoConn{Conn: c, lines: make(chan string, 100), ended: make(chan error, 1)}
	go func() {
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				e.ended <- err
				return
			}
			e.lines <- strings.TrimSuffix(l, "\n")
		}
	}()
	return e
}

func (e *echoConn) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(e, line+"\n"); err != nil {
		t.Fatalf("write %q: %v", line, err)
	}
}

// expect waits up to d for the echo of line.
func (e *echoConn) expect(t *testing.T, line string, d time.Duration) {
	t.Helper()
	select {
	case got := <-e.lines:
		if got != line {
			t.Fatalf("echo %q, want %q", got, line)
		}
	case err := <-e.ended:
		t.Fatalf("connection ended before %q: %v", line, err)
	case <-time.After(d):
		t.Fatalf("no echo of %q within %v", line, d)
	}
}

// quiet checks that nothing comes back for d.
func (e *echoConn) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-e.lines:
		t.Fatalf("echo %q came through", got)
	case err := <-e.ended:
		t.Fatalf("connection ended: %v", err)
	case <-time.After(d):
	}
}

func TestProxyStallHoldsThenRestoreDelivers(t *testing.T) {
	p := echoProxy(t)
	old := dialEcho(t, p)
	old.send(t, "before")
	old.expect(t, "before", 5*time.Second)

	p.Stall()
	old.send(t, "held")
	// A stalled engine still accepts: the dial succeeds, the answer never
	// comes.
	fresh := dialEcho(t, p)
	fresh.send(t, "waiting")
	old.quiet(t, 300*time.Millisecond)
	fresh.quiet(t, 0)

	p.Restore()
	old.expect(t, "held", 5*time.Second)
	fresh.expect(t, "waiting", 5*time.Second)
	old.send(t, "after")
	old.expect(t, "after", 5*time.Second)
}

func TestProxyCutEndsStalledConnections(t *testing.T) {
	p := echoProxy(t)
	old := dialEcho(t, p)
	old.send(t, "before")
	old.expect(t, "before", 5*time.Second)
	p.Stall()
	held := dialEcho(t, p)
	held.send(t, "never")
	p.Cut()
	for name, c := range map[string]*echoConn{"forwarded": old, "held": held} {
		select {
		case err := <-c.ended:
			if err == nil {
				t.Errorf("%s connection: ended without an error", name)
			}
		case l := <-c.lines:
			t.Errorf("%s connection: echo %q after Cut", name, l)
		case <-time.After(5 * time.Second):
			t.Errorf("%s connection survived Cut", name)
		}
	}
	p.Restore()
	again := dialEcho(t, p)
	again.send(t, "back")
	again.expect(t, "back", 5*time.Second)
}

func TestProxyDelayAddsLatencyNotThrottling(t *testing.T) {
	p := echoProxy(t)
	c := dialEcho(t, p)
	const d = 200 * time.Millisecond
	p.Delay(d)

	start := time.Now()
	c.send(t, "slow")
	c.expect(t, "slow", 5*time.Second)
	// Once each way.
	if rtt := time.Since(start); rtt < 2*d {
		t.Errorf("round trip %v with Delay(%v), want at least %v", rtt, d, 2*d)
	}

	// Chunks sent in quick succession overlap their delays: twenty of them
	// take about one round trip, not twenty.
	start = time.Now()
	for i := range 20 {
		c.send(t, "burst")
		if i%5 == 0 {
			time.Sleep(10 * time.Millisecond) // separate reads, separate chunks
		}
	}
	for range 20 {
		c.expect(t, "burst", 5*time.Second)
	}
	if took := time.Since(start); took > 10*d {
		t.Errorf("20 lines took %v with Delay(%v): the delay throttles", took, d)
	}

	p.Restore() // ends the delay too
	start = time.Now()
	c.send(t, "fast")
	c.expect(t, "fast", 5*time.Second)
	if rtt := time.Since(start); rtt >= d {
		t.Errorf("round trip %v after Restore, want no delay", rtt)
	}
}

// The proxy must not leak: closing it while connections are held by a stall
// returns (the test's own cleanup would hang otherwise).
func TestProxyCloseWhileStalled(t *testing.T) {
	p := echoProxy(t)
	c := dialEcho(t, p)
	c.send(t, "x")
	c.expect(t, "x", 5*time.Second)
	p.Stall()
	c.send(t, "held")
	dialEcho(t, p).send(t, "held too")
	done := make(chan struct{})
	go func() { p.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("closing a stalled proxy hung")
	}
	select {
	case err := <-c.ended:
		if err == nil {
			t.Error("held connection ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Error("held connection survived closing the proxy")
	}
}
