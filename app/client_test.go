package main

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"
)

// Tabs reconnecting after a restart spread out: every wait lies in
// [d/2, d], and the waits of many tabs are not all the same.
func TestJitterSpreadsReconnects(t *testing.T) {
	for _, d := range []time.Duration{firstRetry, backoff(1), backoff(3), backoff(20)} {
		for _, u := range []float64{0, 0.25, 0.5, 0.999999} {
			if got := jitter(d, u); got < d/2 || got > d {
				t.Errorf("jitter(%v, %v) = %v, outside [%v, %v]", d, u, got, d/2, d)
			}
		}
	}
	seen := map[time.Duration]bool{}
	for range 50 {
		var c connTracker
		c.connecting()
		c.opened()
		seen[c.lost()] = true
	}
	if len(seen) < 10 {
		t.Errorf("50 tabs losing the server at once retry at only %d distinct moments", len(seen))
	}
}

// The websocket and SSE clients share one mapping of refusals to notices.
func TestRefusalNotices(t *testing.T) {
	for _, tc := range []struct {
		status int
		kind   noticeKind
		retry  time.Duration
		msg    string
	}{
		{http.StatusNotFound, noticeUnavailable, time.Minute, "this crowsnest server has no /events/ws endpoint"},
		{http.StatusBadRequest, noticeError, 0, "bad filter"},
		{http.StatusUnauthorized, noticeAuth, 30 * time.Second, "bad filter"},
		{http.StatusForbidden, noticeAuth, 30 * time.Second, "bad filter"},
	} {
		r, ok := refusalOf(tc.status, "/events/ws?filters=x", "bad filter")
		if !ok || r.notice.kind != tc.kind || r.retry != tc.retry || r.notice.msg != tc.msg {
			t.Errorf("%d: %+v %v, want kind %v, retry %v, %q", tc.status, r, ok, tc.kind, tc.retry, tc.msg)
		}
	}
	for _, status := range []int{http.StatusOK, http.StatusTooManyRequests, http.StatusUpgradeRequired, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		if r, ok := refusalOf(status, "/stacks", "x"); ok {
			t.Errorf("%d is a refusal: %+v; want a retry with backoff", status, r)
		}
	}
}

// A page's work restarts only when what its URL names changes.
func TestPageStreamRestarts(t *testing.T) {
	var s pageStream
	first, fresh := s.restart(context.Background(), "a")
	if !fresh || first.Err() != nil {
		t.Fatal("the first start is not fresh")
	}
	same, fresh := s.restart(context.Background(), "a")
	if fresh || same != first {
		t.Error("the same key restarted the work")
	}
	second, fresh := s.restart(context.Background(), "b")
	if !fresh || first.Err() == nil || second.Err() != nil {
		t.Error("a new key did not stop the old work and start the new")
	}
	s.stop()
	if second.Err() == nil {
		t.Error("stop left the work running")
	}
	if _, fresh := s.restart(context.Background(), "b"); !fresh {
		t.Error("after stop the same key did not start again")
	}
}

// The hosts and session are read once for all pages, again only when
// stale, and again when a read failed.
func TestSharedReadsOnce(t *testing.T) {
	r := &sharedReads{at: map[string]time.Time{}}
	now := time.Now()
	if !r.due(stateHosts, hostsMaxAge, now) {
		t.Fatal("never read, yet not due")
	}
	for range 3 { // three more pages open
		if r.due(stateHosts, hostsMaxAge, now.Add(time.Second)) {
			t.Error("read again by the next page")
		}
	}
	if !r.due(stateHosts, hostsMaxAge, now.Add(hostsMaxAge)) {
		t.Error("not due once stale")
	}
	r.failed(stateHosts)
	if !r.due(stateHosts, hostsMaxAge, now.Add(hostsMaxAge+time.Second)) {
		t.Error("not due after a failed read")
	}
	if !r.due(stateSession, hostsMaxAge, now) {
		t.Error("one state's read claimed another's")
	}
}

// A batch of streamed items goes on top, newest first, within the limit.
func TestPrependNewest(t *testing.T) {
	got := prependNewest([]int{3, 2, 1}, []int{4, 5, 6}, 5)
	if want := []int{6, 5, 4, 3, 2}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
