package auth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// limiterClock is a settable clock for the limiter.
type limiterClock struct {
	mu sync.Mutex
	t  time.Time
}

// now reads the clock.
func (c *limiterClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// add moves the clock forward by d.
func (c *limiterClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// limitedGet runs one request from addr through h.
func limitedGet(h http.Handler, addr string, mutate ...func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/events/ws", nil)
	r.RemoteAddr = addr
	for _, m := range mutate {
		m(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestLimiterStreams: the (N+1)th stream of a client is refused with Retry-After, others are not, and slots come back.
func TestLimiterStreams(t *testing.T) {
	const n = 3
	l := newLimiter(n, 0, 0, nil)
	release := make(chan struct{})
	var entered sync.WaitGroup
	h := l.Wrap(true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Done()
		<-release
	}))
	var done sync.WaitGroup
	entered.Add(n)
	for range n {
		done.Add(1)
		go func() {
			defer done.Done()
			limitedGet(h, "192.0.2.1:1000")
		}()
	}
	entered.Wait()

	w := limitedGet(h, "192.0.2.1:1001")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "5" {
		t.Fatalf("stream %d: %d Retry-After %q", n+1, w.Code, w.Header().Get("Retry-After"))
	}
	if want := fmt.Sprintf(`{"message":"too many streams: at most %d per client"}`, n); strings.TrimSpace(w.Body.String()) != want {
		t.Fatalf("body %s, want %s", w.Body, want)
	}

	// Another client is unaffected.
	entered.Add(1)
	done.Add(1)
	go func() {
		defer done.Done()
		if w := limitedGet(h, "192.0.2.2:1000"); w.Code != 200 {
			t.Errorf("other client: %d", w.Code)
		}
	}()
	entered.Wait()

	// When the handlers return, the slots are free again.
	close(release)
	done.Wait()
	if got := l.clients["ip:192.0.2.1"].streams; got != 0 {
		t.Fatalf("streams after return: %d", got)
	}
	entered.Add(1)
	if w := limitedGet(h, "192.0.2.1:1002"); w.Code != 200 {
		t.Fatalf("after release: %d", w.Code)
	}
}

// TestLimiterStreamSlotFreedOnPanic: a handler that panics still gives its slot back.
func TestLimiterStreamSlotFreedOnPanic(t *testing.T) {
	l := newLimiter(1, 0, 0, nil)
	h := l.Wrap(true, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	func() {
		defer func() { _ = recover() }()
		limitedGet(h, "192.0.2.1:1")
	}()
	if got := l.clients["ip:192.0.2.1"].streams; got != 0 {
		t.Fatalf("slot held after a panic: %d", got)
	}
}

// TestLimiterNonStreamRoutesHoldNoSlot: only stream routes count against --max-streams.
func TestLimiterNonStreamRoutesHoldNoSlot(t *testing.T) {
	l := newLimiter(1, 0, 0, nil)
	inner := l.Wrap(false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 5 {
		if w := limitedGet(inner, "192.0.2.1:1"); w.Code != 200 {
			t.Fatalf("plain route limited: %d", w.Code)
		}
	}
}

// TestLimiterRate: the token bucket refuses past the burst, refills at the rate, and never beyond the burst.
func TestLimiterRate(t *testing.T) {
	clock := &limiterClock{t: time.Unix(1e9, 0)}
	l := newLimiter(0, 2, 4, nil) // 2/s, burst 4
	l.now = clock.now
	h := l.Wrap(false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for i := range 4 {
		if w := limitedGet(h, "192.0.2.1:1"); w.Code != 200 {
			t.Fatalf("request %d within the burst: %d", i+1, w.Code)
		}
	}
	w := limitedGet(h, "192.0.2.1:1")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("past the burst: %d", w.Code)
	}
	if w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "too many requests") {
		t.Fatalf("Retry-After %q body %s", w.Header().Get("Retry-After"), w.Body)
	}
	if w := limitedGet(h, "192.0.2.9:1"); w.Code != 200 {
		t.Fatalf("other client limited: %d", w.Code)
	}
	clock.add(500 * time.Millisecond) // one token back
	if w := limitedGet(h, "192.0.2.1:1"); w.Code != 200 {
		t.Fatalf("after refill: %d", w.Code)
	}
	if w := limitedGet(h, "192.0.2.1:1"); w.Code != 429 {
		t.Fatalf("second after refill: %d", w.Code)
	}
	clock.add(10 * time.Second) // full again, never more than the burst
	for i := range 4 {
		if w := limitedGet(h, "192.0.2.1:1"); w.Code != 200 {
			t.Fatalf("recovered request %d: %d", i+1, w.Code)
		}
	}
	if w := limitedGet(h, "192.0.2.1:1"); w.Code != 429 {
		t.Fatalf("bucket overfilled: %d", w.Code)
	}
}

// TestLimiterRetryAfterFromBucket: Retry-After is the time until the bucket holds a token again.
func TestLimiterRetryAfterFromBucket(t *testing.T) {
	clock := &limiterClock{t: time.Unix(1e9, 0)}
	l := newLimiter(0, 0.1, 1, nil) // one request per 10 s
	l.now = clock.now
	h := l.Wrap(false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	limitedGet(h, "192.0.2.1:1")
	clock.add(3 * time.Second)
	w := limitedGet(h, "192.0.2.1:1")
	if got, _ := strconv.Atoi(w.Header().Get("Retry-After")); w.Code != 429 || got != 7 {
		t.Fatalf("%d Retry-After %q, want 429 and 7", w.Code, w.Header().Get("Retry-After"))
	}
}

// TestLimiterIdleEntriesExpire: idle clients are forgotten, clients with open streams are not.
func TestLimiterIdleEntriesExpire(t *testing.T) {
	clock := &limiterClock{t: time.Unix(1e9, 0)}
	l := newLimiter(2, 50, 200, nil)
	l.now = clock.now
	hold := make(chan struct{})
	entered := make(chan struct{})
	stream := l.Wrap(true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-hold
	}))
	plain := l.Wrap(false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	go limitedGet(stream, "198.51.100.1:1") // a long stream keeps its entry
	<-entered
	for i := range 5000 {
		limitedGet(plain, fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255))
	}
	if n := l.size(); n > 2*5000 || n < 1000 {
		t.Fatalf("size %d after a flood", n)
	}
	clock.add(l.idle + time.Second)
	limitedGet(plain, "192.0.2.7:1")
	if n := l.size(); n != 2 {
		t.Fatalf("size %d after idling, want the streaming client and the new one", n)
	}
	if l.clients["ip:198.51.100.1"] == nil {
		t.Fatal("a client with an open stream was forgotten")
	}
	close(hold)
}

// TestLimiterSweepsAsItGrows: memory stays bounded under a stream of distinct addresses.
func TestLimiterSweepsAsItGrows(t *testing.T) {
	clock := &limiterClock{t: time.Unix(1e9, 0)}
	l := newLimiter(0, 1000, 1, nil) // refills in 1 ms: idle is minIdle
	l.now = clock.now
	h := l.Wrap(false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for i := range 100_000 {
		if i%1000 == 0 {
			clock.add(l.idle / 10)
		}
		limitedGet(h, fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255))
	}
	// Only clients seen within about two idle periods remain.
	if n := l.size(); n > 25_000 {
		t.Fatalf("%d entries kept under a stream of distinct addresses", n)
	}
}

// TestClientKey: who a client is: verified credential, else address (XFF only when trusted, IPv6 by /64, loopback as one).
func TestClientKey(t *testing.T) {
	proxyNet := TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name   string
		remote string
		xff    string
		trust  TrustedProxies
		cred   string
		want   string
	}{
		{"ipv4", "192.0.2.1:5555", "", nil, "", "ip:192.0.2.1"},
		{"ipv6 by /64", "[2001:db8:1:2:3:4:5:6]:5555", "", nil, "", "ip:2001:db8:1:2::/64"},
		{"mapped ipv4", "[::ffff:192.0.2.1]:1", "", nil, "", "ip:192.0.2.1"},
		{"xff ignored without proxies", "192.0.2.1:1", "203.0.113.9", nil, "", "ip:192.0.2.1"},
		{"xff ignored from a peer not named", "192.0.2.1:1", "203.0.113.9", proxyNet, "", "ip:192.0.2.1"},
		{"xff from a named proxy", "10.0.0.2:1", "203.0.113.9", proxyNet, "", "ip:203.0.113.9"},
		{"xff: last hop not a proxy, not the client's claim", "10.0.0.2:1", "198.51.100.7, 203.0.113.9, 10.0.0.3", proxyNet, "", "ip:203.0.113.9"},
		{"xff all proxies: the peer", "10.0.0.2:1", "10.0.0.3", proxyNet, "", "ip:10.0.0.2"},
		{"xff garbage falls back", "10.0.0.2:1", "unknown", proxyNet, "", "ip:10.0.0.2"},
		{"verified credential", "192.0.2.1:1", "", nil, "token:--token#1", "cred:token:--token#1"},
		{"every 127.x is one client", "127.9.8.7:1", "", nil, "", "ip:loopback"},
		{"ipv6 loopback too", "[::1]:1", "", nil, "", "ip:loopback"},
		{"mapped loopback too", "[::ffff:127.0.0.2]:1", "", nil, "", "ip:loopback"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLimiter(1, 0, 0, c.trust)
			l.identify = func(r *http.Request) (*http.Request, string) { return r, c.cred }
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			if _, got := l.clientKey(r); got != c.want {
				t.Fatalf("key %q, want %q", got, c.want)
			}
		})
	}
}

// TestLimiterIdentityIsVerified: with the Authenticator wired as
// NewLimiter wires it, a made-up token counts against the address, a valid
// one against the credential, and the verdict is reused by Require.
func TestLimiterIdentityIsVerified(t *testing.T) {
	a, err := New(Options{Tokens: []string{"read:" + testReadToken}}, authQuietLog())
	if err != nil {
		t.Fatal(err)
	}
	l := NewLimiter(Limits{MaxStreams: 1}, a)
	hold := make(chan struct{})
	entered := make(chan struct{}, 4)
	h := l.Wrap(true, a.Require(ScopeRead, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-hold
	}))
	withToken := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	go limitedGet(h, "192.0.2.1:1", withToken(testReadToken))
	<-entered
	// Same token from elsewhere: same client, over its one stream.
	if w := limitedGet(h, "192.0.2.50:1", withToken(testReadToken)); w.Code != 429 {
		t.Fatalf("second stream of one token: %d", w.Code)
	}
	// Made-up tokens from the token holder's address: counted by address,
	// which has no stream, so they get as far as auth, which says 401.
	for i := range 3 {
		if w := limitedGet(h, "192.0.2.1:1", withToken(fmt.Sprintf("guess-%d", i))); w.Code != 401 {
			t.Fatalf("made-up token %d: %d", i, w.Code)
		}
	}
	if _, ok := l.clients["cred:guess-0"]; ok {
		t.Fatal("an unverified token became a limiter identity")
	}
	close(hold)
}
