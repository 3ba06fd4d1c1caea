package alerts

import (
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// DefaultStopWindow is how long after a kill or stop through the API a
// "die" still counts as stopped. A docker stop sends SIGTERM, waits its
// timeout (10 s by default) and sends SIGKILL; the engine logs a "kill"
// for each signal, then "die", then "stop". A minute covers long stop
// timeouts while a crash days after an unrelated kill still counts.
const DefaultStopWindow = time.Minute

// ctrKey names a container across engines.
type ctrKey struct{ host, id string }

// ctrState is what past events tell about a container, for the facts of
// the next ones.
type ctrState struct {
	killed time.Time // last kill or stop through the API since the container started
	oom    bool      // an "oom" since the container started
	health string    // latest health status while running
}

// tracker follows each container's lifecycle so that a "die" can tell an
// asked-for stop from a crash and an OOM kill, and every event knows the
// container's health.
type tracker struct {
	stopWindow time.Duration
	m          map[ctrKey]*ctrState
}

func newTracker(stopWindow time.Duration) *tracker {
	return &tracker{stopWindow: stopWindow, m: make(map[ctrKey]*ctrState)}
}

// observe updates the container's state with ev and returns the facts of
// ev. Times are the engine's own, so a backlog read late decides as the
// events happened.
func (t *tracker) observe(ev wire.ContainerEvent, f *EventFacts) {
	k := ctrKey{ev.Host, eventID(ev)}
	s := t.m[k]
	if s == nil {
		s = &ctrState{}
		t.m[k] = s
	}
	at := ev.At()
	switch f.Action {
	case "start":
		*s = ctrState{}
	case "kill", "stop":
		s.killed = at
	case "oom":
		s.oom = true
	case "health_status":
		_, s.health = bareAction(ev)
	case "die":
		f.ExitCode = exitCode(ev)
		f.Stopped = !s.killed.IsZero() && at.Sub(s.killed) <= t.stopWindow
		f.OOMKilled = s.oom
		s.health = ""
	case "destroy":
		delete(t.m, k)
	}
	f.Health = s.health
}

// eventID is the container ID an event is about.
func eventID(ev wire.ContainerEvent) string {
	if ev.Actor.ID != "" {
		return ev.Actor.ID
	}
	return ev.ID
}
