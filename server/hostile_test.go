package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/api"
	"github.com/crowsnest-hq/crowsnest/server/stream"
)

// Hostile clients: each test plays one kind of abuse against a whole server
// and checks three things: the abuser is cut off (by a timeout, a limit or a
// close), the server's memory stays bounded, and a well-behaved client
// meanwhile gets its answers as fast as usual.

// noEngine points Localhost at a socket that does not exist, so these tests
// never touch (or wait on) a real engine.
const noEngine = "Localhost=unix:///nonexistent/docker.sock"

// setVar sets a package variable for one test. The tests that use it are not
// parallel, and the server reads the variable after it is set.
func setVar[T any](t *testing.T, v *T, to T) {
	old := *v
	*v = to
	t.Cleanup(func() { *v = old })
}

// heapInUse is the live heap after a collection, for before/after checks.
// Server and clients share the process, so it bounds both.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// checkHeapGrowth fails when the heap grew by more than limit since before.
func checkHeapGrowth(t *testing.T, before uint64, limit uint64, what string) {
	t.Helper()
	after := heapInUse()
	if after > before && after-before > limit {
		t.Errorf("%s: heap grew by %d MiB (from %d MiB), more than %d MiB", what, (after-before)>>20, before>>20, limit>>20)
	}
}

// latencyProbe is a well-behaved client that GETs url every few
// milliseconds on its own connection until stopped, timing each request.
type latencyProbe struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	times []time.Duration
	fails []error
}

func startProbe(url string) *latencyProbe {
	p := &latencyProbe{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		defer client.CloseIdleConnections()
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			start := time.Now()
			resp, err := client.Get(url)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			p.mu.Lock()
			p.times = append(p.times, time.Since(start))
			if err != nil {
				p.fails = append(p.fails, err)
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// check stops the probe and fails when a request failed or the 99th
// percentile latency exceeded limit. The limit is generous (race detector,
// two cores); what it catches is a server that stalls while abused.
func (p *latencyProbe) check(t *testing.T, limit time.Duration) {
	t.Helper()
	// An attack cut off within milliseconds leaves few samples: let the
	// probe reach a handful (bounded) so its figure means something.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		p.mu.Lock()
		n := len(p.times)
		p.mu.Unlock()
		if n >= 5 {
			break
		}
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.fails) > 0 {
		t.Errorf("normal client: %d of %d requests failed, first: %v", len(p.fails), len(p.times), p.fails[0])
	}
	if len(p.times) < 5 {
		t.Errorf("normal client: only %d requests completed", len(p.times))
		return
	}
	s := slices.Clone(p.times)
	slices.Sort(s)
	p99 := s[len(s)*99/100]
	t.Logf("normal client: %d requests, p50 %v, p99 %v, max %v", len(s), s[len(s)/2], p99, s[len(s)-1])
	if p99 > limit {
		t.Errorf("normal client: p99 latency %v while the hostile client ran, want under %v", p99, limit)
	}
}

// hostPort is the host:port of an http:// URL.
func hostPort(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// waitClosed reads from conn until the server closes it, and reports how
// long that took; it fails the test when the server still holds the
// connection after limit.
func waitClosed(t *testing.T, conn net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still holds the connection after %v", limit)
	}
	return time.Since(start)
}

// TestHostileSlowHeaders: clients that open connections and never finish
// their request header (slowloris), at a byte per second and by the
// hundred, are cut by ReadHeaderTimeout; an idle kept-alive connection is
// closed after IdleTimeout; meanwhile a normal client is served promptly.
func TestHostileSlowHeaders(t *testing.T) {
	setVar(t, &readHeaderTimeout, time.Second)
	setVar(t, &idleTimeout, time.Second)
	s := startServer(t, "--host", noEngine)
	addr := hostPort(t, s.URL)
	before := heapInUse()
	probe := startProbe(s.URL + "/healthz")

	// One client sends its request a byte per second: the header would
	// take a minute, the server gives it one second.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	go func() {
		for _, b := range []byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: yes\r\n\r\n") {
			if _, err := slow.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()

	// And 300 more hold a half-written header, adding a header line now
	// and then, as a slowloris tool does.
	const n = 300
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	stopDribble := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stopDribble:
				return
			case <-time.After(200 * time.Millisecond):
			}
			for _, c := range conns {
				fmt.Fprintf(c, "X-%d: y\r\n", i) // errors once cut; ignored
			}
		}
	}()
	defer close(stopDribble)

	if d := waitClosed(t, slow, 5*time.Second); d > 3*time.Second {
		t.Errorf("byte-a-second client cut after %v, want about %v", d, readHeaderTimeout)
	}
	var wg sync.WaitGroup
	var late atomic.Int32
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			// A reset is a close too (the server drops a connection with
			// header lines still unread); only the deadline means open.
			if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
				late.Add(1)
			}
		}()
	}
	wg.Wait()
	if late.Load() > 0 {
		t.Errorf("%d of %d slowloris connections still open after 5s", late.Load(), n)
	}
	probe.check(t, time.Second)
	checkHeapGrowth(t, before, 32<<20, "300 slowloris connections")

	// A kept-alive connection nobody uses is closed after IdleTimeout.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	idle.SetReadDeadline(start.Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("idle kept-alive connection still open after 5s (IdleTimeout %v): %v", idleTimeout, err)
	}
	t.Logf("idle connection closed after %v", time.Since(start))
}

// TestHostileSlowBody: a client that sends its header promptly and then
// dribbles the body is cut by api.BodyReadTimeout, not held for ever.
func TestHostileSlowBody(t *testing.T) {
	setVar(t, &api.BodyReadTimeout, time.Second)
	s := startServer(t, "--host", noEngine)
	c, err := net.Dial("tcp", hostPort(t, s.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	go func() {
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			if _, err := io.WriteString(c, " "); err != nil {
				return
			}
		}
	}()
	// The server answers (400, the body could not be read) and closes.
	start := time.Now()
	if d := waitClosed(t, c, 5*time.Second); time.Since(start) > 4*time.Second {
		t.Errorf("slow body cut after %v, want about %v", d, api.BodyReadTimeout)
	}
}

// TestHostileNeverReadsResponse: a client that asks for a large page of
// events or an event stream and then never reads is cut once its write
// stalls (api.WriteStallTimeout for pages, stream.SSEWriteTimeout for the stream),
// instead of holding a handler and its buffers for ever.
func TestHostileNeverReadsResponse(t *testing.T) {
	setVar(t, &api.WriteStallTimeout, time.Second)
	setVar(t, &stream.SSEWriteTimeout, time.Second)
	p := startInProcess(t, Config{StreamQueue: 1 << 16})
	addr := hostPort(t, p.URL)

	// The stream client subscribes first, so every event below is owed to it.
	sse, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Close()
	shrinkReadBuffer(sse)
	io.WriteString(sse, "GET /api/v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	for !strings.Contains(getText(t, p.URL+"/metrics"), `crowsnest_stream_clients{endpoint="events_sse"} 1`) {
		time.Sleep(10 * time.Millisecond)
	}

	// 40 MiB of events: far more than the socket buffers of two
	// connections hold, so both writers block.
	pad := strings.Repeat("x", 128<<10)
	for i := range 16 {
		var batch []wire.Event
		for j := range 20 {
			batch = append(batch, wire.Event{Tags: []string{"big"}, Value: []byte(fmt.Sprintf(`{"n":%d,"pad":%q}`, i*20+j, pad))})
		}
		if _, err := p.store.Append(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
	}
	page, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	shrinkReadBuffer(page)
	io.WriteString(page, "GET /api/v1/events?tag=big&per_page=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

	// Both handlers give up: the stream leaves the client gauge, the page's
	// handler returns and is counted. (The connection is closed too, but
	// the kernel still delivers what it buffered, so a client cannot tell
	// quickly.) Without the deadlines both would block in Write for ever.
	// The limits are generous: reading and encoding 40 MiB under -race on
	// a busy machine takes a while before the first write stalls.
	waitMetric(t, p.URL, `crowsnest_stream_clients{endpoint="events_sse"} 0`, time.Minute)
	waitMetric(t, p.URL, `crowsnest_http_requests_total{code="200",route="/api/v1/events"} 1`, time.Minute)
}

// waitMetric waits until /metrics has line, failing after limit.
func waitMetric(t *testing.T, base, line string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(getText(t, base+"/metrics"), line) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v: the handler is still held by a client that never reads", line, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shrinkReadBuffer keeps a never-reading test client's receive buffer
// small, so the server's writes stall after little data.
func shrinkReadBuffer(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 10)
	}
}

// getText GETs url and returns the body.
func getText(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawWS opens a websocket by hand, so the test can then send frames no
// well-behaved library would: a header announcing a terabyte, or frames
// without end. ok is false when the server answered without upgrading.
func rawWS(t *testing.T, addr, target string, header http.Header) (net.Conn, int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	req := "GET " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n"
	for k, vs := range header {
		for _, v := range vs {
			req += k + ": " + v + "\r\n"
		}
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	// Read the response a byte at a time up to its blank line, so no
	// frame after it is swallowed by a buffer.
	var head []byte
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		b := make([]byte, 1)
		if _, err := c.Read(b); err != nil {
			t.Fatalf("upgrade %s: %v after %q", target, err, head)
		}
		head = append(head, b[0])
	}
	c.SetReadDeadline(time.Time{})
	var status int
	fmt.Sscanf(string(head), "HTTP/1.1 %d", &status)
	if status != http.StatusSwitchingProtocols {
		c.Close()
	}
	return c, status
}

// wsFrameHeader is a masked client frame header for opcode announcing n
// payload bytes (the mask key is zero, so the payload goes as is).
func wsFrameHeader(opcode byte, n uint64) []byte {
	h := []byte{0x80 | opcode}
	switch {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n < 1<<16:
		h = append(h, 0x80|126, byte(n>>8), byte(n))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, n)
	}
	return append(h, 0, 0, 0, 0)
}

// floodUntilCut writes chunk repeatedly until a write fails, and returns the
// bytes written and how long the server took to cut the connection.
func floodUntilCut(t *testing.T, c net.Conn, chunk []byte, limit time.Duration) (int64, time.Duration) {
	t.Helper()
	start := time.Now()
	var n int64
	c.SetWriteDeadline(start.Add(limit))
	for {
		k, err := c.Write(chunk)
		n += int64(k)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("still accepting writes after %v (%d MiB sent)", limit, n>>20)
			}
			return n, time.Since(start)
		}
	}
}

// wsRoutes are the websocket routes of the table with a concrete target:
// every stream but the SSE one (which is not a websocket).
func wsRoutes() []api.Route {
	var out []api.Route
	for _, rt := range api.Routes() {
		if rt.Stream && rt.Path != "/api/v1/events/stream" {
			out = append(out, rt)
		}
	}
	return out
}

// wsTarget is the request target used for a websocket route in these tests.
func wsTarget(rt api.Route) string {
	switch rt.Path {
	case "/events/ws":
		return "/events/ws?since=1h" // replays from the store: works without an engine
	default:
		return concretePath(rt.Path)
	}
}

// TestHostileWebsocketFrames: on every websocket route, a frame announcing
// a terabyte and an endless stream of frames each get the socket closed
// without the server buffering them; a flood of pings from a client that
// never reads the pongs is closed too. The sockets are send-only: any data
// message is a policy violation (stream.Socket's watch), so
// no payload is ever read, let alone held.
func TestHostileWebsocketFrames(t *testing.T) {
	s := startServer(t, "--host", noEngine, "--request-rate", "0")
	addr := hostPort(t, s.URL)
	probe := startProbe(s.URL + "/healthz")
	before := heapInUse()
	zeros := make([]byte, 64<<10)
	tested := 0
	for _, rt := range wsRoutes() {
		target := wsTarget(rt)
		t.Run(strings.TrimPrefix(rt.Path, "/"), func(t *testing.T) {
			huge, status := rawWS(t, addr, target, nil)
			if status != http.StatusSwitchingProtocols {
				t.Skipf("%s does not upgrade without an engine (status %d); the frame handling is shared (stream.Socket)", target, status)
			}
			tested++
			defer huge.Close()
			if _, err := huge.Write(wsFrameHeader(0x2, 1<<40)); err != nil {
				t.Fatal(err)
			}
			n, d := floodUntilCut(t, huge, zeros, 10*time.Second)
			t.Logf("terabyte frame: cut after %d KiB, %v", n>>10, d)

			endless, _ := rawWS(t, addr, target, nil)
			defer endless.Close()
			frame := append(wsFrameHeader(0x1, 100), make([]byte, 100)...)
			n, d = floodUntilCut(t, endless, slices.Repeat(frame, 100), 10*time.Second)
			t.Logf("endless frames: cut after %d KiB, %v", n>>10, d)
		})
	}
	if tested == 0 {
		t.Fatal("no websocket route upgraded")
	}
	// A ping is answered with a pong, so a ping flood would keep the
	// server writing: past wsMaxPingsPerSecond the socket is dropped.
	// Shared by every socket (stream.Socket), so one route shows it.
	t.Run("ping flood", func(t *testing.T) {
		c, status := rawWS(t, addr, "/logs/ws", nil)
		if status != http.StatusSwitchingProtocols {
			t.Fatalf("status %d", status)
		}
		defer c.Close()
		shrinkReadBuffer(c)
		ping := append(wsFrameHeader(0x9, 125), make([]byte, 125)...)
		n, d := floodUntilCut(t, c, slices.Repeat(ping, 64), 30*time.Second)
		t.Logf("ping flood: cut after %d KiB, %v", n>>10, d)
	})
	checkHeapGrowth(t, before, 32<<20, "hostile frames")
	probe.check(t, time.Second)
}

// TestHostileThousandsOfSockets: one client opening 2,000 sockets holds
// --max-streams of them; the rest get 429 with Retry-After at once, memory
// stays bounded, the slots come back when its sockets close, and a normal
// client is served throughout.
func TestHostileThousandsOfSockets(t *testing.T) {
	const maxStreams, attempts = 16, 2000
	s := startServer(t, "--host", noEngine, "--max-streams", fmt.Sprint(maxStreams), "--request-rate", "0")
	before := heapInUse()
	probe := startProbe(s.URL + "/healthz")
	var (
		mu       sync.Mutex
		held     []*websocket.Conn
		statuses = map[int]int{}
		noRetry  int
	)
	work := make(chan struct{})
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				conn, resp, err := websocket.Dial(ctx, s.WS("/logs/ws?tail=0"), nil)
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					held = append(held, conn)
					statuses[101]++
				case resp != nil:
					statuses[resp.StatusCode]++
					if resp.Header.Get("Retry-After") == "" {
						noRetry++
					}
				default:
					statuses[-1]++
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for range attempts {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	t.Logf("%d socket attempts in %v: %v", attempts, time.Since(start), statuses)
	if statuses[101] != maxStreams || statuses[http.StatusTooManyRequests] != attempts-maxStreams || noRetry != 0 {
		t.Errorf("got %v (%d refusals without Retry-After); want %d upgraded and %d answered 429 with Retry-After",
			statuses, noRetry, maxStreams, attempts-maxStreams)
	}
	checkHeapGrowth(t, before, 48<<20, fmt.Sprintf("%d sockets attempted", attempts))
	probe.check(t, time.Second)

	// Closing its sockets gives the client its slots back.
	for _, c := range held {
		c.Close(websocket.StatusNormalClosure, "")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _ := dialStatus(t, s.WS("/logs/ws?tail=0"), nil)
		if status == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing its sockets the client still gets %d", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHostileSlowSignedBody: a Hyper-signed request is verified before any
// handler, so its body is read first. Sent to a socket's route (no
// withDeadlines there) and dribbled, it is still cut by api.BodyReadTimeout;
// one over the API's 1 MiB body limit is refused with 413 unread.
func TestHostileSlowSignedBody(t *testing.T) {
	setVar(t, &api.BodyReadTimeout, time.Second)
	s := startServer(t, "--host", noEngine, "--hyper-key", "AKSLOW:slow-secret-0123")
	signedHead := func(path string, length int) string {
		req, err := http.NewRequest("GET", s.URL+path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		testenv.HyperSign(req, "AKSLOW", "slow-secret-0123", "us-west-1", time.Now())
		var b strings.Builder
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", path, req.URL.Host, length)
		for _, h := range []string{"Authorization", "X-Hyper-Date", "X-Hyper-Content-Sha256"} {
			fmt.Fprintf(&b, "%s: %s\r\n", h, req.Header.Get(h))
		}
		return b.String() + "\r\n"
	}

	c, err := net.Dial("tcp", hostPort(t, s.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, signedHead("/events/ws", 100000)+"x")
	go func() {
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			if _, err := io.WriteString(c, "x"); err != nil {
				return
			}
		}
	}()
	// The server answers (400, the body could not be read) and closes.
	if d := waitClosed(t, c, 5*time.Second); d > 4*time.Second {
		t.Errorf("slow signed body cut after %v, want about %v", d, api.BodyReadTimeout)
	}

	big, err := net.Dial("tcp", hostPort(t, s.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	big.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(big, signedHead("/api/v1/events", 1<<20+1))
	resp, err := http.ReadResponse(bufio.NewReader(big), nil)
	if err != nil {
		t.Fatalf("signed request over 1 MiB: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("signed request over 1 MiB: %d, want 413 before its body is read", resp.StatusCode)
	}
}
