package main

import (
	"testing"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

func TestConnTransitions(t *testing.T) {
	var c connTracker
	c.connecting()
	if c.state != connConnecting {
		t.Fatalf("first attempt: %v", c.state)
	}
	if d := c.failed(); c.state != connReconnecting || d < 250*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("1 failure: %v after %v", c.state, d)
	}
	c.connecting() // a retry keeps "reconnecting"
	if c.state != connReconnecting {
		t.Errorf("retrying: %v", c.state)
	}
	c.failed()
	if d := c.failed(); c.state != connOffline || d < time.Second || d > 2*time.Second {
		t.Errorf("3 failures: %v after %v", c.state, d)
	}
	c.opened()
	if c.state != connLive || c.failures != 0 {
		t.Errorf("opened: %v with %d failures", c.state, c.failures)
	}
	c.stopped()
	if c.state != connIdle {
		t.Errorf("stopped: %v", c.state)
	}
	if backoff(0) != 0 || backoff(20) != 30*time.Second {
		t.Errorf("backoff bounds: %v %v", backoff(0), backoff(20))
	}
}

func TestConnRegistryShowsTheWorst(t *testing.T) {
	r := &connRegistry{states: map[string]connState{}}
	var got connState
	var detail string
	r.watch(func(s connState, d string) { got, detail = s, d })
	if got != connIdle {
		t.Errorf("no streams: %v", got)
	}
	r.set("a", connLive, "")
	r.set("b", connReconnecting, "connection lost")
	if got != connReconnecting || detail != "connection lost" {
		t.Errorf("live + reconnecting: %v %q", got, detail)
	}
	r.set("b", connIdle, "")
	if got != connLive {
		t.Errorf("after b closed: %v", got)
	}
	r.set("a", connLive, "")
	if detail != "" {
		t.Errorf("detail kept after recovery: %q", detail)
	}
}

// The nav bar's indicator follows the registry: rendered with go-app's
// client tester, its state attribute and label change with the streams.
func TestNavBarIndicator(t *testing.T) {
	saved := conns
	conns = &connRegistry{states: map[string]connState{}}
	defer func() { conns = saved }()

	n := &navBar{Active: "events"}
	disp := app.NewClientTester(n)
	defer disp.Close()
	conns.set("events", connOffline, "server unreachable")
	disp.Consume()
	if n.state != connOffline {
		t.Fatalf("state = %v", n.state)
	}
	// topbar > topbar-inner(1) > topbar-end(2) > conn(1) > label(1) > text(0)
	if err := app.TestMatch(n, app.TestUIDescriptor{
		Path:     app.TestPath(0, 1, 2, 1, 1, 0),
		Expected: app.Text("offline"),
	}); err != nil {
		t.Error(err)
	}
	conns.set("events", connLive, "")
	disp.Consume()
	if err := app.TestMatch(n, app.TestUIDescriptor{
		Path:     app.TestPath(0, 1, 2, 1, 1, 0),
		Expected: app.Text("live"),
	}); err != nil {
		t.Error(err)
	}
}

func TestSSEParser(t *testing.T) {
	var p sseParser
	var got []sseEvent
	for _, l := range []string{": heartbeat", "", "id: 7", "event: deploy", "data: {\"a\":", "data: 1}", "", "data: x", "", "retry: 10"} {
		if ev, ok := p.line(l); ok {
			got = append(got, ev)
		}
	}
	want := []sseEvent{{id: "7", event: "deploy", data: "{\"a\":\n1}"}, {id: "7", event: "message", data: "x"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("events = %+v, want %+v", got, want)
	}
	if p.lastID != "7" {
		t.Errorf("lastID = %q", p.lastID)
	}
}

func TestStatsFeedBatches(t *testing.T) {
	var f statsFeed
	if s, err := f.add([]byte(`{"message":"Connection established"}`)); s || err != nil {
		t.Errorf("greeting: schedule %v err %v", s, err)
	}
	if s, _ := f.add([]byte(`{"id":"a","hostId":"h","cpuUsage":1.5}`)); !s {
		t.Error("first frame did not ask for a flush")
	}
	if s, _ := f.add([]byte(`{"id":"b","hostId":"h"}`)); s {
		t.Error("second frame asked for another flush")
	}
	if s, _ := f.add([]byte(`{"hostId":"h2","error":"down"}`)); s {
		t.Error("error frame asked for another flush")
	}
	stats, errs := f.take()
	if len(stats) != 2 || stats[0].CPUUsage != 1.5 || len(errs) != 1 || errs[0].Error != "down" {
		t.Errorf("take = %+v %+v", stats, errs)
	}
	if _, err := f.add([]byte(`not json`)); err == nil {
		t.Error("bad frame accepted")
	}
}
