package main

import (
	"math/rand/v2"
	"sync"
	"time"
)

// connState is how one stream (or the app as a whole) is connected.
type connState int

const (
	connIdle         connState = iota // nothing open
	connLive                          // open and receiving
	connConnecting                    // first attempt under way
	connReconnecting                  // lost, retrying
	connOffline                       // several attempts failed: the server looks unreachable
)

// offlineAfter is how many failed attempts in a row turn "reconnecting" into
// "offline": one failure is a blip (a server restart), three are an outage.
const offlineAfter = 3

// String is the label of the nav bar's indicator.
func (s connState) String() string {
	switch s {
	case connLive:
		return "live"
	case connConnecting:
		return "connecting"
	case connReconnecting:
		return "reconnecting"
	case connOffline:
		return "offline"
	default:
		return "idle"
	}
}

// connTracker follows one stream's attempts.
type connTracker struct {
	state    connState
	failures int // failed attempts since the last success
}

// connecting records that an attempt starts.
func (t *connTracker) connecting() {
	if t.state == connIdle {
		t.state = connConnecting
	}
}

// opened records a successful connection: live, and the backoff starts over.
func (t *connTracker) opened() {
	t.state, t.failures = connLive, 0
}

// failed records a failed attempt or a dropped connection and returns how
// long to wait before the next attempt.
func (t *connTracker) failed() time.Duration {
	t.failures++
	if t.failures >= offlineAfter {
		t.state = connOffline
	} else {
		t.state = connReconnecting
	}
	return jitter(backoff(t.failures), rand.Float64())
}

// lost records a connection that dropped after it was open and returns the
// wait before the next attempt: the first is short (a server restart: try
// again almost at once), then as failed.
func (t *connTracker) lost() time.Duration {
	wait := t.failed()
	if t.failures == 1 {
		wait = jitter(firstRetry, rand.Float64())
	}
	return wait
}

// firstRetry is the wait after a connection that was open dropped.
const firstRetry = 200 * time.Millisecond

// stopped records that the stream was closed on purpose.
func (t *connTracker) stopped() {
	t.state, t.failures = connIdle, 0
}

// backoff is the longest wait before attempt n+1 after n failures: 0.5 s
// doubling to 30 s. The first retry is quick so a server restart costs
// little; the cap keeps an offline tab from hammering a server that comes
// back.
func backoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := 500 * time.Millisecond
	for i := 1; i < failures && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// jitter spreads a wait d over [d/2, d] by u in [0, 1): after a server
// restart every open tab loses its streams at the same instant, and without
// it they would all come back in lockstep, attempt after attempt.
func jitter(d time.Duration, u float64) time.Duration {
	half := d / 2
	return half + time.Duration(u*float64(d-half))
}

// worst is the state the indicator shows for several streams: the worst one,
// so a single broken stream is not hidden by healthy ones.
func worst(states []connState) connState {
	out := connIdle
	for _, s := range states {
		if s > out {
			out = s
		}
	}
	return out
}

// connRegistry gathers the states of the open streams for the nav bar.
// Streams run on their own goroutines; the watcher (the nav bar) is told on
// every change and moves the value onto the UI goroutine itself.
type connRegistry struct {
	mu      sync.Mutex
	states  map[string]connState
	detail  string // the last failure's cause, shown in the offline banner
	watcher func(connState, string)
}

// conns is the app's registry.
var conns = &connRegistry{states: map[string]connState{}}

// set records the state of the stream name.
func (r *connRegistry) set(name string, s connState, detail string) {
	r.mu.Lock()
	if s == connIdle {
		delete(r.states, name)
	} else {
		r.states[name] = s
	}
	if detail != "" || s == connLive {
		r.detail = detail
	}
	overall, d, w := r.overallLocked(), r.detail, r.watcher
	r.mu.Unlock()
	if w != nil {
		w(overall, d)
	}
}

// watch makes w the one watcher and tells it the current state.
func (r *connRegistry) watch(w func(connState, string)) {
	r.mu.Lock()
	r.watcher = w
	overall, d := r.overallLocked(), r.detail
	r.mu.Unlock()
	if w != nil {
		w(overall, d)
	}
}

func (r *connRegistry) overallLocked() connState {
	states := make([]connState, 0, len(r.states))
	for _, s := range r.states {
		states = append(states, s)
	}
	return worst(states)
}
