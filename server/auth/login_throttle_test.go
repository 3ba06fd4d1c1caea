package auth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestLoginThrottle: the backoff per address doubles past five failures,
// a success clears it, other addresses are not charged, and guesses spread
// over many addresses meet the server-wide backoff.
func TestLoginThrottle(t *testing.T) {
	clock := &limiterClock{t: time.Unix(1e9, 0)}
	th := NewLoginThrottle(nil)
	th.now = clock.now
	req := func(addr string) *http.Request {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = addr
		return r
	}
	a, b := req("192.0.2.1:1"), req("192.0.2.2:1")
	for range 5 {
		th.Failed(a)
	}
	if w := th.Wait(a); w != 0 {
		t.Fatalf("after 5 failures: wait %v, want none", w)
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		th.Failed(a)
		if w := th.Wait(a); w != want {
			t.Fatalf("failure %d: wait %v, want %v", 6+i, w, want)
		}
	}
	if w := th.Wait(b); w != 0 {
		t.Fatalf("another address waits %v", w)
	}
	th.Succeeded(a)
	if w := th.Wait(a); w != 0 {
		t.Fatalf("after a success: wait %v", w)
	}
	for i := range loginFreeAll - 8 + 1 { // 8 from a already: one past the free ones
		th.Failed(req(fmt.Sprintf("198.51.100.%d:1", i%250)))
	}
	if w := th.Wait(req("203.0.113.1:1")); w != time.Second {
		t.Fatalf("after %d failures from many addresses, a new one waits %v, want 1s", loginFreeAll+1, w)
	}
	clock.add(loginForgetAfter)
	th.Failed(b)
	if w := th.Wait(b); w != 0 {
		t.Fatalf("after %v without failures: wait %v, want the counts forgotten", loginForgetAfter, w)
	}
}
