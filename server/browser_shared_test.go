package main

import (
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// requestsTo is JavaScript counting the page's fetches of a path so far:
// in-app navigation keeps the performance timeline.
func requestsTo(path string) string {
	return `performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname === ` + jsString(path) + `).length`
}

// TestBrowserPagesShareHostsAndSession: moving through the pages that show
// the engines (the events, stacks and alerts pages' host selectors, the
// overview's cards) or need the session (the overview's and a container
// page's actions) reads /api/v1/hosts and /api/v1/session once, not once a
// page: the app keeps both in state the pages share.
func TestBrowserPagesShareHostsAndSession(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-sleep", "1h"}})
	srv := startServer(t)
	b := openUI(t, srv, "/events")
	b.waitJS("the events page's host selector", uiTimeout,
		`[...document.querySelectorAll('select option')].some(o => o.value === 'Localhost')`, mainText)
	for _, p := range []struct{ nav, ready string }{
		{"#nav-stacks", "#nav-stacks.active"},
		{"#nav-alerts", "#nav-alerts.active"},
		{"#nav-overview", `#hosts .host[data-host="Localhost"]`},
	} {
		b.click("open "+p.nav, p.nav)
		b.waitSelector("the page of "+p.nav, p.ready, uiTimeout)
	}
	row := `#containers tr[data-id="` + id + `"]`
	b.waitSelector("the helper's row", row, uiTimeout)
	b.click("open the container page", row+" a")
	b.waitSelector("the container page", "#inspect-title", uiTimeout)
	b.click("open the stacks page again", "#nav-stacks")
	b.waitSelector("the stacks page", "#nav-stacks.active", uiTimeout)
	var hosts, sessions int
	b.eval("fetches of /api/v1/hosts", requestsTo("/api/v1/hosts"), &hosts)
	b.eval("fetches of /api/v1/session", requestsTo("/api/v1/session"), &sessions)
	// Once; twice at most on a slow machine, where the overview opens more
	// than 10 s after the first read and rereads the engines for their state.
	if hosts < 1 || hosts > 2 {
		t.Errorf("five pages and a return fetched /api/v1/hosts %d times, want once", hosts)
	}
	if sessions != 1 {
		t.Errorf("/api/v1/session fetched %d times, want once", sessions)
	}
	b.expectNoProblems("pages sharing the hosts")
}
