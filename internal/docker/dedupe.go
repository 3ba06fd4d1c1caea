package docker

import (
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// DefaultDedupeWindow is how far out of timestamp order an engine may
// deliver events and still have each stored exactly once. Concurrent
// operations on one engine reach subscribers a few milliseconds out of
// order; a window of seconds leaves a wide margin, and it is also how far
// back a resumed stream re-reads.
const DefaultDedupeWindow = 10 * time.Second

// eventKey is an engine event's identity on its host: two events of one
// container with one action cannot share a nanosecond. The action's detail
// ("health_status: healthy") is left out: crowsnest may complete it (see
// completeHealth), and a re-read of the event must still be recognised.
type eventKey struct {
	actor, action string
	nano          int64
}

func keyOf(ev wire.ContainerEvent) eventKey {
	action, _, _ := strings.Cut(ev.Action, ":")
	return eventKey{actor: ev.Actor.ID, action: action, nano: ev.TimeNano}
}

// seenSet remembers the identities of the events already stored within
// window of the newest one, so a re-read or out-of-order event is recognised
// by what it is, never by its timestamp alone.
type seenSet struct {
	window int64
	newest int64 // timeNano of the newest stored event; 0: none yet
	keys   map[eventKey]struct{}
	adds   int // since the last prune
}

func newSeenSet(window time.Duration) *seenSet {
	return &seenSet{window: window.Nanoseconds(), keys: make(map[eventKey]struct{})}
}

// has reports whether ev was already stored.
func (s *seenSet) has(ev wire.ContainerEvent) bool {
	_, ok := s.keys[keyOf(ev)]
	return ok
}

// add records ev as stored.
func (s *seenSet) add(ev wire.ContainerEvent) {
	s.keys[keyOf(ev)] = struct{}{}
	s.newest = max(s.newest, ev.TimeNano)
	s.adds++
	if s.adds >= 1024 {
		s.prune()
	}
}

// prune forgets identities older than the window: a resumed stream starts
// at resumeFrom, so it never re-reads them.
func (s *seenSet) prune() {
	s.adds = 0
	floor := s.resumeFrom()
	for k := range s.keys {
		if k.nano < floor {
			delete(s.keys, k)
		}
	}
}

// resumeFrom is the timeNano a new subscription starts from so that every
// event not yet stored is delivered again: the window before the newest.
func (s *seenSet) resumeFrom() int64 { return max(s.newest-s.window, 1) }

// fresh returns the events of batch that are neither stored nor repeated
// within batch, in their order.
func (s *seenSet) fresh(batch []wire.ContainerEvent) []wire.ContainerEvent {
	out := batch[:0:0]
	inBatch := make(map[eventKey]struct{}, len(batch))
	for _, ev := range batch {
		k := keyOf(ev)
		if _, ok := s.keys[k]; ok {
			continue
		}
		if _, ok := inBatch[k]; ok {
			continue
		}
		inBatch[k] = struct{}{}
		out = append(out, ev)
	}
	return out
}
