package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/moby/moby/client"
)

// Proxy sits between a client and the engine and forwards byte streams both
// ways, so a test can make the engine vanish and come back without touching
// the real one: Cut drops every connection and refuses new ones until
// Restore. The zero value is not usable; call NewProxy.
type Proxy struct {
	tb      testing.TB
	ln      net.Listener
	path    string
	network string // of the engine: "unix" or "tcp"
	addr    string

	mu    sync.Mutex
	mode  proxyMode
	conns map[net.Conn]struct{} // both ends of every forwarded connection
	wg    sync.WaitGroup
}

// proxyMode is how the proxy treats connections. It is a mode rather than a
// flag so stalling and delaying can join cutting later.
type proxyMode int

const (
	modeForward proxyMode = iota
	modeCut
)

// NewProxy starts a proxy to the engine c talks to, listening on a new unix
// socket in a fresh temporary directory. It is closed when the test ends.
func NewProxy(tb testing.TB, c *client.Client) *Proxy {
	tb.Helper()
	u, err := client.ParseHostURL(c.DaemonHost())
	if err != nil {
		tb.Fatalf("proxy: engine address %q: %v", c.DaemonHost(), err)
	}
	network, addr := u.Scheme, u.Host // for unix:// the socket path is in Host
	// os.MkdirTemp rather than tb.TempDir: a unix socket path must stay
	// under ~108 bytes, and tb.TempDir embeds the (long) test name.
	dir, err := os.MkdirTemp("", "cn-proxy-")
	if err != nil {
		tb.Fatalf("proxy: temp dir: %v", err)
	}
	path := filepath.Join(dir, "engine.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatalf("proxy: listen on %s: %v", path, err)
	}
	p := &Proxy{tb: tb, ln: ln, path: path, network: network, addr: addr, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(func() {
		p.close()
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("proxy: removing %s: %v", dir, err)
		}
	})
	return p
}

// URL is the proxy's address as a Docker host URL, unix:///….
func (p *Proxy) URL() string { return "unix://" + p.path }

// Cut closes every current connection and refuses new ones until Restore:
// to a client the engine has gone away.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeCut
	for c := range p.conns {
		_ = c.Close() // closing is the point; an error means already closed
		delete(p.conns, c)
	}
}

// Restore makes the proxy forward new connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeForward
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			p.tb.Logf("proxy: accept: %v", err)
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		if mode == modeCut {
			_ = down.Close() // refusing: the client sees the connection drop
			continue
		}
		p.wg.Add(1)
		go p.forward(down)
	}
}

// forward connects down to the engine and copies bytes both ways until
// either side closes or Cut closes both.
func (p *Proxy) forward(down net.Conn) {
	defer p.wg.Done()
	up, err := net.Dial(p.network, p.addr)
	if err != nil {
		p.tb.Logf("proxy: dialing the engine: %v", err)
		_ = down.Close() // the client sees the failure as a dropped connection
		return
	}
	if !p.track(down, up) {
		_ = down.Close() // cut while dialing
		_ = up.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src) // ends when either side closes; nothing to report
		done <- struct{}{}
	}
	go pipe(up, down)
	go pipe(down, up)
	<-done
	// One direction ended: end the other too, as a real engine connection
	// would, so no goroutine outlives the test.
	p.untrack(down, up)
	<-done
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == modeCut {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close() // may already be closed by Cut
		delete(p.conns, c)
	}
}

// close stops listening, drops every connection and waits for the
// forwarding goroutines.
func (p *Proxy) close() {
	if err := p.ln.Close(); err != nil {
		p.tb.Errorf("proxy: closing listener: %v", err)
	}
	p.Cut()
	p.wg.Wait()
}

// String names the proxy in test logs.
func (p *Proxy) String() string {
	return fmt.Sprintf("proxy %s → %s://%s", p.path, p.network, p.addr)
}
