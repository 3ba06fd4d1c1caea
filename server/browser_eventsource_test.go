package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestBrowserEventSourceReadsTheStream checks the SSE stream with the
// browser's own EventSource, as any web page would use it: named events by
// type, the id of each, and a resume after the connection drops, which
// EventSource does by itself with Last-Event-ID.
func TestBrowserEventSourceReadsTheStream(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t, "--host", "Localhost=unix:///nonexistent/docker.sock")
	b := newBrowser(t)
	b.navigate(srv.URL + "/healthz") // a page of the origin without a CSP, so EventSource is same-origin and allowed
	tag := fmt.Sprintf("es:%d", time.Now().UnixNano())

	// The page collects "deploy" events and reconnects on its own; drop()
	// closes the stream once to see the resume.
	b.eval("open an EventSource", `(() => {
		window.got = [];
		window.opened = 0;
		const open = (last) => {
			const es = new EventSource('/api/v1/events/stream?tag=`+tag+`' + (last ? '&last_event_id=' + last : ''));
			es.onopen = () => { window.opened++; };
			es.addEventListener('deploy', (m) => { window.got.push({id: m.lastEventId, data: JSON.parse(m.data)}); });
			window.es = es;
		};
		window.drop = () => { const last = window.got.length ? window.got[window.got.length-1].id : ''; window.es.close(); open(last); };
		open('');
		return true;
	})()`, new(bool))
	b.waitJS("the stream opens", 10*time.Second, "window.opened === 1", "window.opened")

	first := postEvent(t, srv.URL, `{"tags":["`+tag+`"],"type":"deploy","value":{"n":1}}`)
	b.waitJS("the first event arrives", 10*time.Second, "window.got.length === 1", "JSON.stringify(window.got)")
	var id string
	b.eval("its id", "window.got[0].id", &id)
	if id != strconv.FormatUint(first.ID, 10) {
		t.Fatalf("EventSource lastEventId %q, want %d", id, first.ID)
	}

	// Events stored while the page is not connected arrive after the
	// resume, once each and in order.
	b.eval("close the stream", "window.es.close(), true", new(bool))
	missed := []uint64{
		postEvent(t, srv.URL, `{"tags":["`+tag+`"],"type":"deploy","value":{"n":2}}`).ID,
		postEvent(t, srv.URL, `{"tags":["`+tag+`"],"type":"other","value":{"n":0}}`).ID,
		postEvent(t, srv.URL, `{"tags":["`+tag+`"],"type":"deploy","value":{"n":3}}`).ID,
	}
	b.eval("reopen from the last id", "window.drop(), true", new(bool))
	b.waitJS("the missed deploy events arrive", 10*time.Second, "window.got.length === 3", "JSON.stringify(window.got)")
	var ns []int
	b.eval("values in order", "window.got.map(g => g.data.value.n)", &ns)
	if fmt.Sprint(ns) != "[1 2 3]" {
		t.Fatalf("EventSource got values %v, want [1 2 3] (missed ids %v)", ns, missed)
	}
	b.expectNoProblems("EventSource page")
}
