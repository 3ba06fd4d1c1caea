package docker

import (
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestRecordKey: on a store shared by replicas, two replicas that close one
// gap find its changes at different times and must store each once; any
// other difference (container, action, gap, host) is another record, and an
// engine event is one record per timeNano.
func TestRecordKey(t *testing.T) {
	from := time.Date(2026, 12, 2, 9, 0, 0, 123, time.UTC)
	g := wire.Gap{Host: "local", Reason: wire.GapEngineRestart, From: from, To: from.Add(time.Minute)}
	prev := wire.ContainerEvent{Host: "local", Action: "start", Actor: wire.Actor{ID: "c1", Attributes: map[string]string{"name": "web"}}}
	change := func(g wire.Gap, later time.Duration, action string) wire.ContainerEvent {
		return gone(prev, action, g.To.Add(later).UnixNano(), g.From.Format(time.RFC3339Nano))
	}
	engineEvent := func(nano int64) wire.ContainerEvent {
		return wire.ContainerEvent{Host: "local", Action: "die", TimeNano: nano, Actor: wire.Actor{ID: "c1"}}
	}
	other := g
	other.From = from.Add(time.Second)

	same := [][2]wire.ContainerEvent{
		{change(g, 0, "die"), change(g, 3*time.Second, "die")},
		{engineEvent(5), engineEvent(5)},
	}
	for _, p := range same {
		if recordKey(p[0]) != recordKey(p[1]) {
			t.Errorf("one record, two keys: %+v and %+v", p[0], p[1])
		}
	}
	distinct := [][2]wire.ContainerEvent{
		{change(g, 0, "die"), change(g, 0, "destroy")},
		{change(g, 0, "die"), change(other, 0, "die")},
		{engineEvent(5), engineEvent(6)},
		{change(g, 0, "die"), engineEvent(g.To.UnixNano())},
	}
	for _, p := range distinct {
		if recordKey(p[0]) == recordKey(p[1]) {
			t.Errorf("two records, one key: %+v and %+v", p[0], p[1])
		}
	}
	if got := change(g, 0, "die").Actor.Attributes[wire.ReconciledGapAttribute]; got != "2026-12-02T09:00:00.000000123Z" {
		t.Errorf("%s = %q, want the gap's start", wire.ReconciledGapAttribute, got)
	}
}
