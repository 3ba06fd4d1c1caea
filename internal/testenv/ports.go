package testenv

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/moby/moby/client"
)

// Ports exposes one engine on many loopback TCP ports, so a test can
// configure it as that many engines: each port forwards every connection
// to the engine's own address, byte for byte. It counts the connections
// open through all its ports, so a test can see how many requests a
// crowsnest holds in flight at once.
type Ports struct {
	// URLs are tcp://127.0.0.1:port, one per port.
	URLs []string

	network, addr string
	lns           []net.Listener
	open, peak    atomic.Int64
	oneShots      atomic.Int64
	wg            sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{} // both ends of every forwarded connection
}

// NewPorts listens on n free loopback ports forwarding to the engine c talks
// to. They are closed, with every connection through them, when the test
// ends.
func NewPorts(tb testing.TB, c *client.Client, n int) *Ports {
	tb.Helper()
	u, err := client.ParseHostURL(c.DaemonHost())
	if err != nil {
		tb.Fatalf("ports: engine address %q: %v", c.DaemonHost(), err)
	}
	p := &Ports{network: u.Scheme, addr: u.Host, conns: map[net.Conn]struct{}{}}
	tb.Cleanup(p.close)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("ports: listening: %v", err)
		}
		p.lns = append(p.lns, ln)
		p.URLs = append(p.URLs, "tcp://"+ln.Addr().String())
		p.wg.Go(func() { p.accept(ln) })
	}
	return p
}

// Peak is the most connections that were open through the ports at once.
func (p *Ports) Peak() int64 { return p.peak.Load() }

// Requests counts the one-shot stats requests sent through the ports.
func (p *Ports) Requests() int64 { return p.oneShots.Load() }

// Open is the number of connections open through the ports now.
func (p *Ports) Open() int64 { return p.open.Load() }

// ResetPeak starts counting the peak again from the connections open now.
func (p *Ports) ResetPeak() { p.peak.Store(p.open.Load()) }

func (p *Ports) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

// forward copies both ways between c and a new connection to the engine.
func (p *Ports) forward(c net.Conn) {
	defer c.Close()
	e, err := net.Dial(p.network, p.addr)
	if err != nil {
		return
	}
	defer e.Close()
	if !p.track(true, c, e) {
		return
	}
	defer p.track(false, c, e)
	n := p.open.Add(1)
	defer p.open.Add(-1)
	for {
		peak := p.peak.Load()
		if n <= peak || p.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err == nil || errors.Is(err, net.ErrClosed) {
			// The other side reads EOF, as it would from the engine.
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
		}
		done <- struct{}{}
	}
	go pipe(e, countingConn{c, &p.oneShots})
	go pipe(c, e)
	<-done
	<-done
}

// oneShotQuery is in the query of every one-shot (non-streaming) stats
// request the moby client sends.
var oneShotQuery = []byte("/stats?")

// countingConn counts the one-shot stats requests read from a client. A
// request line split across two reads is missed, which a count of many
// requests can afford.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if k := bytes.Count(b[:n], oneShotQuery); k > 0 && bytes.Contains(b[:n], []byte("stream=false")) {
		c.n.Add(int64(k))
	}
	return n, err
}

// track adds or removes both ends of a connection; it reports false when
// the ports are closed already.
func (p *Ports) track(add bool, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		if add {
			p.conns[c] = struct{}{}
		} else {
			delete(p.conns, c)
		}
	}
	return !p.closed
}

// close stops listening, ends every connection and waits for the copies.
func (p *Ports) close() {
	for _, ln := range p.lns {
		_ = ln.Close() // a listener's close error says nothing about the test
	}
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close() // ending the copies is the point; an error changes nothing
	}
	p.mu.Unlock()
	p.wg.Wait()
}
