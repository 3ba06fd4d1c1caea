package main

import (
	"math"
	"sync"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// What several pages show (the engines, the viewer's session) is read once
// for the app and kept in go-app's state store: each page observes it, gets
// the current value at once and re-renders when it changes, and moving from
// page to page costs no request.

// State keys.
const (
	stateHosts   = "crowsnest.hosts"
	stateSession = "crowsnest.session"
)

// hostsMaxAge is how old the engines may be when a page opens: the host
// selectors need names, which rarely change; the overview reads them more
// often for their state (overviewHostsEvery).
const hostsMaxAge = time.Minute

// sharedHosts is the engines as the pages share them, with why the last
// read failed (the list is the last good one then).
type sharedHosts struct {
	list []wire.Host
	note notice
}

// shared decides when a state is read: once, not once per page.
var shared = &sharedReads{at: map[string]time.Time{}}

// sharedReads records when each state was last read, or is being read.
type sharedReads struct {
	mu sync.Mutex
	at map[string]time.Time
}

// due reports whether key should be read now (never read, or read longer
// than maxAge ago) and, when it should, claims the read so other pages
// opening meanwhile do not read it too.
func (r *sharedReads) due(key string, maxAge time.Duration, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.at[key]; ok && now.Sub(at) < maxAge {
		return false
	}
	r.at[key] = now
	return true
}

// failed forgets a read that got no answer, so the next page tries again.
func (r *sharedReads) failed(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.at, key)
}

// observeHosts makes *recv follow the shared engines and reads them when
// they are older than maxAge.
func observeHosts(ctx app.Context, recv *sharedHosts, maxAge time.Duration) {
	ctx.ObserveState(stateHosts).Value(recv)
	refreshHosts(ctx, maxAge)
}

// refreshHosts reads the engines if they are older than maxAge, and shares
// the answer; a failure keeps the last list, with the failure's notice.
func refreshHosts(ctx app.Context, maxAge time.Duration) {
	if !shared.due(stateHosts, maxAge, time.Now()) {
		return
	}
	ctx.Async(func() {
		hosts, err := apiHosts(ctx)
		if ctx.Err() != nil {
			shared.failed(stateHosts)
			return
		}
		var s sharedHosts
		ctx.GetState(stateHosts, &s)
		s.note = noticeOf(err)
		if err != nil {
			app.Logf("hosts: %v", err)
			shared.failed(stateHosts)
		} else {
			s.list = hosts
		}
		ctx.SetState(stateHosts, s)
	})
}

// observeSession makes *recv follow what the viewer may do, read once for
// the app (signing in or out reloads it). Until an answer arrives, or when
// none does, the session is the zero one and pages show no admin controls:
// the safe side, and the server refuses a non-admin's actions anyway.
func observeSession(ctx app.Context, recv *wire.Session) {
	ctx.ObserveState(stateSession).Value(recv)
	if !shared.due(stateSession, time.Duration(math.MaxInt64), time.Now()) {
		return
	}
	ctx.Async(func() {
		s, err := apiSession(ctx)
		if err != nil {
			shared.failed(stateSession)
			if ctx.Err() == nil && !isStatus(err, 404) {
				app.Logf("session: %v", err)
			}
			return
		}
		ctx.SetState(stateSession, s)
	})
}
