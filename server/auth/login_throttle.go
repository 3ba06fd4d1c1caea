package auth

import (
	"net/http"
	"sync"
	"time"
)

// Login throttle settings. A bearer token names no user, so a failed login
// has no principal to charge: failures count per client address (as the
// limiter names it), and across all addresses, so guessing spread over many
// addresses is slowed too. The server-wide count starts later and its wait
// is capped lower, so a flood of wrong tokens delays real users' logins by
// at most a minute.
const (
	loginFreeFailures  = 5                // per address before the backoff starts
	loginMaxWait       = 5 * time.Minute  // per address
	loginFreeAll       = 100              // across all addresses
	loginMaxWaitAll    = time.Minute      // across all addresses
	loginForgetAfter   = 15 * time.Minute // without a failure, a count starts again
	loginMaxAddresses  = 4096             // sweep forgotten addresses past this
	loginBackoffFactor = time.Second      // wait after the first failure past the free ones
)

// LoginThrottle slows token guessing on POST /login: after a few failures
// each further attempt must wait, twice as long after each failure. A
// successful login clears its address's count.
type LoginThrottle struct {
	proxies TrustedProxies
	now     func() time.Time

	mu     sync.Mutex
	byAddr map[string]*loginFailures
	all    loginFailures
}

// loginFailures is the failure count of one address or of all of them.
type loginFailures struct {
	n     int
	last  time.Time // of the last failure
	until time.Time // no attempt before this
}

// NewLoginThrottle builds the throttle; proxies name the client as the
// limiter does.
func NewLoginThrottle(proxies TrustedProxies) *LoginThrottle {
	return &LoginThrottle{proxies: proxies, now: time.Now, byAddr: map[string]*loginFailures{}}
}

// Wait is how long r's client must wait before it may try a token, 0 when
// it may now.
func (t *LoginThrottle) Wait(r *http.Request) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	wait := t.all.until.Sub(now)
	if f := t.byAddr[t.client(r)]; f != nil {
		wait = max(wait, f.until.Sub(now))
	}
	return max(wait, 0)
}

// Failed counts a wrong token from r's client. It returns the client's
// name, safe to log, and the failures counted for it.
func (t *LoginThrottle) Failed(r *http.Request) (string, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	key := t.client(r)
	f := t.byAddr[key]
	if f == nil {
		if len(t.byAddr) >= loginMaxAddresses {
			t.sweep(now)
		}
		f = &loginFailures{}
		t.byAddr[key] = f
	}
	f.count(now, loginFreeFailures, loginMaxWait)
	t.all.count(now, loginFreeAll, loginMaxWaitAll)
	return key, f.n
}

// Succeeded clears the count of r's client.
func (t *LoginThrottle) Succeeded(r *http.Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byAddr, t.client(r))
}

// client names r's client as the limiter does when no credential verified.
func (t *LoginThrottle) client(r *http.Request) string {
	if a, ok := t.proxies.clientAddr(r); ok {
		return addrKey(a)
	}
	return r.RemoteAddr
}

// sweep forgets addresses whose last failure is old. Called with t.mu held.
func (t *LoginThrottle) sweep(now time.Time) {
	for k, f := range t.byAddr {
		if now.Sub(f.last) >= loginForgetAfter {
			delete(t.byAddr, k)
		}
	}
}

// count adds a failure at now: past free failures, the next attempt waits
// 1 s, 2 s, 4 s… up to limit.
func (f *loginFailures) count(now time.Time, free int, limit time.Duration) {
	if now.Sub(f.last) >= loginForgetAfter {
		f.n = 0
	}
	f.n++
	f.last = now
	if over := f.n - free; over > 0 {
		wait := limit
		if over <= 20 { // past 2^20 s every limit is reached
			wait = min(limit, loginBackoffFactor<<(over-1))
		}
		f.until = now.Add(wait)
	}
}
