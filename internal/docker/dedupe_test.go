package docker

import (
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func ev(nano int64, id, action string) wire.ContainerEvent {
	return wire.ContainerEvent{TimeNano: nano, Action: action, Actor: wire.Actor{ID: id}}
}

func TestSeenSetKeepsOutOfOrderEvents(t *testing.T) {
	s := newSeenSet(time.Second)
	stored := []wire.ContainerEvent{ev(100, "a", "create"), ev(300, "b", "create")}
	for _, e := range stored {
		s.add(e)
	}
	// An event older than the newest stored one is new all the same: the
	// engine delivers concurrent operations out of timestamp order.
	batch := []wire.ContainerEvent{
		ev(200, "c", "create"), // earlier than b's create, never stored
		ev(300, "b", "create"), // stored: a resumed stream repeats it
		ev(300, "b", "start"),  // same nanosecond, other action
		ev(300, "d", "create"), // same nanosecond, other container
		ev(200, "c", "create"), // repeated within the batch
	}
	got := s.fresh(batch)
	want := []string{"c/create", "b/start", "d/create"}
	if len(got) != len(want) {
		t.Fatalf("fresh = %v, want %v", got, want)
	}
	for i, e := range got {
		if e.Actor.ID+"/"+e.Action != want[i] {
			t.Errorf("fresh[%d] = %s/%s, want %s", i, e.Actor.ID, e.Action, want[i])
		}
	}
}

func TestSeenSetForgetsOnlyBeyondTheWindow(t *testing.T) {
	window := time.Second
	s := newSeenSet(window)
	old := ev(1, "a", "create")
	s.add(old)
	s.add(ev(int64(window)/2, "b", "create"))
	last := ev(int64(window)+10, "c", "create")
	s.add(last)
	s.prune()
	if s.has(old) {
		t.Error("an event older than the window is still remembered")
	}
	if !s.has(ev(int64(window)/2, "b", "create")) || !s.has(last) {
		t.Error("an event within the window was forgotten")
	}
	if got, want := s.resumeFrom(), int64(10); got != want {
		t.Errorf("resumeFrom = %d, want %d: a resumed stream must re-read the whole window", got, want)
	}
}
