package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Proxy sits between a client and the engine and forwards byte streams both
// ways, so a test can make the engine misbehave without touching the real
// one:
//
//   - Cut drops every connection and refuses new ones: the engine is gone.
//   - Stall accepts connections but forwards nothing, on new and existing
//     connections alike, and closes nothing: the engine hangs.
//   - Delay adds latency to every chunk forwarded either way: a slow or
//     distant engine.
//   - Restore ends all of that; bytes held by a stall are then delivered.
//
// The zero value is not usable; call NewProxy.
type Proxy struct {
	tb      testing.TB
	ln      net.Listener
	path    string
	network string // of the engine: "unix" or "tcp"
	addr    string

	mu    sync.Mutex
	mode  proxyMode
	delay time.Duration
	// thaw is closed when a stall ends (Restore, Cut or close), waking
	// every connection held by it; Stall makes a new one.
	thaw  chan struct{}
	conns map[net.Conn]struct{} // both ends of every connection, held or forwarded
	wg    sync.WaitGroup

	closeOnce sync.Once
}

// proxyMode is how the proxy treats connections. Delay is not a mode: it
// applies to whatever is forwarded, so a delayed engine can also be cut.
type proxyMode int

const (
	modeForward proxyMode = iota
	modeCut
	modeStall
)

// chunkSize is the most bytes read at once; each read is one chunk, the
// unit Delay and Stall hold back.
const chunkSize = 32 << 10

// chunkQueue is how many chunks of one direction may be waiting out their
// delay at once; beyond it the reader waits, as a slow link would.
const chunkQueue = 64

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
	p := &Proxy{tb: tb, ln: ln, path: path, network: network, addr: addr,
		thaw: closedChan(), conns: make(map[net.Conn]struct{})}
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

func closedChan() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// URL is the proxy's address as a Docker host URL, unix:///….
func (p *Proxy) URL() string { return "unix://" + p.path }

// Cut closes every current connection and refuses new ones until Restore:
// to a client the engine has gone away.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setModeLocked(modeCut)
	for c := range p.conns {
		_ = c.Close() // closing is the point; an error means already closed
		delete(p.conns, c)
	}
}

// Stall makes the engine hang: new connections are accepted but not
// forwarded, and nothing more is forwarded on existing ones, until Restore
// (or Cut). Nothing is closed, so only a client's own timeout ends a
// request.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode != modeStall {
		p.thaw = make(chan struct{})
	}
	p.mode = modeStall
}

// Delay adds d of latency to every chunk forwarded from now on, either way;
// 0 removes it. Chunks keep their order, and throughput is not limited, as
// on a long link.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = max(d, 0)
}

// Restore makes the proxy forward again with no delay: new connections
// reach the engine, and connections held by a stall go on, delivering what
// they held.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setModeLocked(modeForward)
	p.delay = 0
}

// setModeLocked switches mode, waking connections held by a stall when it
// ends. p.mu is held.
func (p *Proxy) setModeLocked(m proxyMode) {
	if p.mode == modeStall && m != modeStall {
		close(p.thaw)
	}
	p.mode = m
}

// hold waits while the proxy is stalled and returns the mode that ended
// the wait: modeCut tells the caller to give up.
func (p *Proxy) hold() proxyMode {
	for {
		p.mu.Lock()
		m, thaw := p.mode, p.thaw
		p.mu.Unlock()
		if m != modeStall {
			return m
		}
		<-thaw
	}
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
		if !p.track(down) {
			_ = down.Close() // refusing: the client sees the connection drop
			continue
		}
		p.wg.Add(1)
		go p.forward(down)
	}
}

// forward connects down to the engine, once no stall holds it, and copies
// bytes both ways until either side closes or Cut closes both.
func (p *Proxy) forward(down net.Conn) {
	defer p.wg.Done()
	// A stalled engine accepted the connection but answers nothing: the
	// client's request sits in the socket until Restore or Cut.
	if p.hold() == modeCut {
		p.untrack(down)
		return
	}
	up, err := net.Dial(p.network, p.addr)
	if err != nil {
		p.tb.Logf("proxy: dialing the engine: %v", err)
		p.untrack(down) // the client sees the failure as a dropped connection
		return
	}
	if !p.track(up) {
		_ = up.Close() // cut while dialing; Cut closed down already
		p.untrack(down)
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, down); done <- struct{}{} }()
	go func() { p.pipe(down, up); done <- struct{}{} }()
	<-done
	// One direction ended: end the other too, as a real engine connection
	// would, so no goroutine outlives the test.
	p.untrack(down, up)
	<-done
}

// chunk is bytes read from one side, due on the other at due.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst chunk by chunk: a reader stamps each chunk with
// the delay in force when it arrived, and the writer waits out that delay
// and any stall before passing it on. Reading ahead while the writer waits
// is what keeps a delay from also throttling the stream.
func (p *Proxy) pipe(dst, src net.Conn) {
	chunks := make(chan chunk, chunkQueue)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{data: buf[:n], due: time.Now().Add(p.latency())}
			}
			if err != nil {
				return // EOF or closed: nothing to report, the pipe just ends
			}
		}
	}()
	failed := false
	for c := range chunks {
		if failed {
			continue // drain, so the reader never blocks once dst is gone
		}
		if p.hold() == modeCut {
			failed = true
			continue
		}
		if wait := time.Until(c.due); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(c.data); err != nil {
			failed = true
			// Closing src ends the reader, which ends the drain.
			_ = src.Close() // the connection is over either way
		}
	}
}

// latency is the delay in force now.
func (p *Proxy) latency() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay
}

// track records connections so Cut can close them; it refuses (false)
// while cut.
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

// close stops listening, drops every connection (waking any held by a
// stall) and waits for the forwarding goroutines. Only the first call acts.
func (p *Proxy) close() {
	p.closeOnce.Do(func() {
		if err := p.ln.Close(); err != nil {
			p.tb.Errorf("proxy: closing listener: %v", err)
		}
		p.Cut()
		p.wg.Wait()
	})
}

// String names the proxy in test logs.
func (p *Proxy) String() string {
	return fmt.Sprintf("proxy %s → %s://%s", p.path, p.network, p.addr)
}
