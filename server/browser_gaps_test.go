package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestBrowserEventsShowGaps: crowsnest is cut off from the engine while a
// container stops and the engine forgets that it did; the events page then
// says where the record has a gap, and shows the stop it found in the
// container list as reconciled.
func TestBrowserEventsShowGaps(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	proxy := testenv.NewProxy(t, eng)
	srv := startServer(t, "--host", "Localhost="+proxy.URL())
	waitConnected(t, srv.URL)
	id, name := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "1s"}})
	waitStored(t, srv, url.Values{"tag": {"container:" + name, "action:start"}})

	proxy.Cut()
	waitHost(t, srv, "Localhost", 20*time.Second, wire.HostUnreachable)
	testenv.Stop(t, eng, id)
	testenv.FloodEngineMemory(t, eng)
	proxy.Restore()
	waitStored(t, srv, url.Values{"type": {wire.GapEventType}})

	b := openUI(t, srv, "/events?"+url.Values{"since": {"1h"}, "event": {"start", "die"}, "container": {name}}.Encode())
	b.waitSelector("the gap on the events page", `#events-gaps li[data-reason="outage"]`, uiTimeout)
	b.waitJS("the reconciled die of "+name, uiTimeout,
		`[...document.querySelectorAll('#events-table tr[data-action="die"]')].some(r => r.innerText.includes('reconciled after a gap'))`,
		"(e => e ? e.innerText.slice(0, 600) : 'no #events-table')(document.querySelector('#events-table'))")
	b.expectNoProblems("events page with a gap")
	b.screenshots("events-gap")
}

// waitStored waits until GET /api/v1/events with q finds an event.
func waitStored(t *testing.T, srv *liveServer, q url.Values) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(srv.URL + "/api/v1/events?" + q.Encode())
		if err == nil {
			var evs []wire.Event
			err = json.NewDecoder(resp.Body).Decode(&evs)
			resp.Body.Close()
			if err == nil && len(evs) > 0 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no stored event matches %v", q)
}
