package auth

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// Limiter timings.
const (
	// streamRetryAfter is the Retry-After of a refused stream: a slot frees
	// only when one of the client's streams ends, which the server cannot
	// predict, so it names a short, fixed wait.
	streamRetryAfter = 5 * time.Second
	// minIdle is the least time a client's entry is kept after its last
	// request, so a client between two requests is not forgotten and
	// re-created over and over.
	minIdle = time.Minute
	// minSweepSize is the map size below which growth alone does not trigger
	// a sweep.
	minSweepSize = 1024
)

// Limiter bounds what one client may hold: concurrent streams (--max-streams)
// and the request rate (--request-rate, --request-burst, a token bucket).
// A client is its verified credential, else its address. Entries of idle
// clients are swept, so thousands of distinct addresses cost memory only
// while they are active.
type Limiter struct {
	maxStreams int     // 0: unlimited
	rate       float64 // tokens per second; 0: unlimited
	burst      float64 // bucket size
	proxies    TrustedProxies
	idle       time.Duration // after this long unused, an entry holds nothing worth keeping
	now        func() time.Time
	log        *slog.Logger

	// identify returns the id of the request's verified credential, or ""
	// (see Authenticator.identity), and the request to pass on. Nil: every
	// client is its address.
	identify func(*http.Request) (*http.Request, string)

	mu        sync.Mutex
	clients   map[string]*clientLimits
	nextSweep time.Time
	sweepSize int // sweep early when the map grows to this size
}

// clientLimits is one client's state.
type clientLimits struct {
	streams int       // streams open now
	tokens  float64   // requests the bucket still allows
	seen    time.Time // last refill, that is the last request or stream end
}

// Limits are the per-client limits: --max-streams, --request-rate,
// --request-burst, and the --trusted-proxy peers whose X-Forwarded-For
// names the client.
type Limits struct {
	MaxStreams     int     // concurrent streams per client; 0 = unlimited
	Rate           float64 // requests per second per client; 0 = unlimited
	Burst          int
	TrustedProxies []netip.Prefix
}

// NewLimiter builds the limiter of lim. A client is the credential a
// verifies, else its address; the limiter runs before Require, so it
// counts verified credentials, not claims.
func NewLimiter(lim Limits, a *Authenticator) *Limiter {
	l := newLimiter(lim.MaxStreams, lim.Rate, lim.Burst, lim.TrustedProxies)
	l.identify = a.identity
	return l
}

// newLimiter builds the limiter; 0 for maxStreams or rate disables that limit.
// A burst below 1 with a rate set is taken as 1: the bucket must hold at
// least one request or nothing would ever pass.
func newLimiter(maxStreams int, rate float64, burst int, proxies TrustedProxies) *Limiter {
	l := &Limiter{
		maxStreams: max(maxStreams, 0),
		rate:       max(rate, 0),
		burst:      float64(max(burst, 1)),
		proxies:    proxies,
		idle:       minIdle,
		now:        time.Now,
		log:        slog.Default(),
		clients:    map[string]*clientLimits{},
		sweepSize:  minSweepSize,
	}
	if l.rate > 0 {
		// After burst/rate an unused bucket is full again: forgetting it then
		// changes nothing, so that is when an entry may go.
		refill := time.Duration(l.burst / l.rate * float64(time.Second))
		l.idle = max(l.idle, refill)
	}
	return l
}

// enabled reports whether any limit is set.
func (l *Limiter) enabled() bool { return l != nil && (l.maxStreams > 0 || l.rate > 0) }

// Wrap applies the per-client limits to a route: a request token from the
// bucket on every route, and for stream routes a slot held until the handler
// returns.
func (l *Limiter) Wrap(stream bool, h http.Handler) http.Handler {
	if !l.enabled() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, key := l.clientKey(r)
		wait, msg := l.admit(key, stream)
		if msg != "" {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			l.log.Debug("request limited", "client", key, "path", r.URL.Path, "reason", msg)
			respond.Error(w, http.StatusTooManyRequests, msg)
			return
		}
		if stream && l.maxStreams > 0 {
			defer l.release(key)
		}
		h.ServeHTTP(w, r)
	})
}

// clientKey names the client of r: "cred:" and the id of a credential that
// verified, else "ip:" and its address (see TrustedProxies.clientAddr).
// Every loopback address is one client; IPv6 addresses count by their /64, which one subscriber usually holds
// whole: counting single addresses would let it open a bucket per address.
func (l *Limiter) clientKey(r *http.Request) (*http.Request, string) {
	if l.identify != nil {
		var id string
		if r, id = l.identify(r); id != "" {
			return r, "cred:" + id
		}
	}
	if a, ok := l.proxies.clientAddr(r); ok {
		return r, "ip:" + addrKey(a)
	}
	return r, "ip:" + r.RemoteAddr
}

// parseAddr reads an address with or without a port.
func parseAddr(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return a, err == nil
}

// loopbackKey is the one client every loopback address counts as: each
// local process may bind any 127.x source address, so counting them apart
// would give it a fresh bucket per address.
const loopbackKey = "loopback"

// addrKey is the limiter key of an address (see clientAddr).
func addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.IsLoopback() {
		return loopbackKey
	}
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}

// admit takes a request token and, for a stream, a slot. It returns "" when
// the request may go on, else why not and how long to wait.
func (l *Limiter) admit(key string, stream bool) (time.Duration, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	c := l.clients[key]
	if c == nil {
		c = &clientLimits{tokens: l.burst, seen: now}
		l.clients[key] = c
	}
	l.refill(c, now)
	if l.rate > 0 {
		if c.tokens < 1 {
			wait := time.Duration((1 - c.tokens) / l.rate * float64(time.Second))
			return wait, fmt.Sprintf("too many requests: at most %g per second per client (burst %g)", l.rate, l.burst)
		}
		c.tokens--
	}
	if stream && l.maxStreams > 0 {
		if c.streams >= l.maxStreams {
			return streamRetryAfter, fmt.Sprintf("too many streams: at most %d per client", l.maxStreams)
		}
		c.streams++
	}
	return 0, ""
}

// release gives a stream slot back.
func (l *Limiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.clients[key]; c != nil && c.streams > 0 {
		l.refill(c, l.now()) // refill before moving seen, or the interval's tokens are lost
		c.streams--
	}
}

// refill adds the tokens earned since c was last seen and marks it seen now.
func (l *Limiter) refill(c *clientLimits, now time.Time) {
	if l.rate > 0 {
		if d := now.Sub(c.seen); d > 0 {
			c.tokens = math.Min(l.burst, c.tokens+d.Seconds()*l.rate)
		}
	}
	if now.After(c.seen) {
		c.seen = now
	}
}

// sweep forgets clients without open streams that have been idle for
// l.idle, at most once per l.idle, or sooner when the map has doubled, so a
// flood of new addresses is cleaned as it grows. Called with l.mu held.
func (l *Limiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) && len(l.clients) < l.sweepSize {
		return
	}
	for k, c := range l.clients {
		if c.streams == 0 && now.Sub(c.seen) >= l.idle {
			delete(l.clients, k)
		}
	}
	l.nextSweep = now.Add(l.idle)
	l.sweepSize = max(minSweepSize, 2*len(l.clients))
}

// size is the number of clients tracked, for tests and metrics.
func (l *Limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
