package docker

import (
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func ev(nano int64, id, action string) wire.ContainerEvent {
	return wire.ContainerEvent{TimeNano: nano, Action: action, Actor: wire.Actor{ID: id}}
}

func TestCursorSkipsOnlyWhatWasDelivered(t *testing.T) {
	c := from(100)
	if c.seen(ev(100, "a", "start")) {
		t.Error("from: an event at the start point counts as seen")
	}
	if !c.seen(ev(99, "a", "start")) {
		t.Error("an event before the cursor is not seen")
	}
	c.advance(ev(200, "a", "start"))
	c.advance(ev(200, "b", "start"))
	for _, e := range []wire.ContainerEvent{ev(200, "a", "start"), ev(200, "b", "start")} {
		if !c.seen(e) {
			t.Errorf("%+v delivered but not seen", e)
		}
	}
	if c.seen(ev(200, "a", "die")) || c.seen(ev(200, "c", "start")) {
		t.Error("another event of the same nanosecond counts as seen")
	}
	c.advance(ev(300, "a", "die"))
	if c.seen(ev(300, "b", "start")) || !c.seen(ev(200, "c", "start")) {
		t.Error("advancing did not move the boundary")
	}

	r := after(500)
	if !r.seen(ev(500, "x", "start")) || r.seen(ev(501, "x", "start")) {
		t.Error("after: the resume point must be exclusive")
	}
	r.advance(ev(500, "x", "die")) // a same-nanosecond event keeps everything at 500 seen
	if !r.seen(ev(500, "y", "start")) {
		t.Error("after: advancing within the resume nanosecond forgot it was all seen")
	}
}

func TestSinceParam(t *testing.T) {
	if got := sinceParam(1476375852191659300); got != "1476375852.191659300" {
		t.Errorf("sinceParam = %s", got)
	}
	if got := sinceParam(5 * int64(time.Second)); got != "5.000000000" {
		t.Errorf("sinceParam = %s", got)
	}
	if sinceParam(0) != "" {
		t.Error("sinceParam(0) is not empty")
	}
}
