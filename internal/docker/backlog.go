package docker

import (
	"slices"
	"sync"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// backlog holds the events read from an engine and not stored yet, up to
// a limit. It grows with what is waiting instead of reserving room for the
// limit up front: a channel of DefaultIngestQueue events is over a
// megabyte, held by every engine for as long as it is connected, most of
// them idle. One reader pushes, one writer takes.
type backlog struct {
	limit int
	ready chan struct{} // holds a token once events wait or the backlog is closed

	mu     sync.Mutex
	events []wire.ContainerEvent
	closed bool
}

// idleCapacity is the most room an emptied backlog keeps: after a burst
// its memory goes back, so a once-busy engine does not hold a burst's
// worth for good.
const idleCapacity = 64

func newBacklog(limit int) *backlog {
	return &backlog{limit: limit, ready: make(chan struct{}, 1)}
}

// push adds ev without ever blocking, so the engine's stream is read as
// fast as it is sent (an engine drops a subscriber that stays behind). It
// reports false when the backlog is full.
func (q *backlog) push(ev wire.ContainerEvent) bool {
	q.mu.Lock()
	if len(q.events) >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.events = append(q.events, ev)
	q.mu.Unlock()
	q.signal()
	return true
}

// close tells the writer no more events come; it still takes those left.
func (q *backlog) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *backlog) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is waiting already
	}
}

// take waits for events and returns up to limit of the oldest ones; false
// once the backlog is closed and empty.
func (q *backlog) take(limit int) ([]wire.ContainerEvent, bool) {
	for {
		q.mu.Lock()
		if n := len(q.events); n > 0 {
			k := min(n, limit)
			batch := slices.Clone(q.events[:k])
			rest := copy(q.events, q.events[k:])
			clear(q.events[rest:]) // let the taken events' attributes go
			q.events = q.events[:rest]
			if rest == 0 && cap(q.events) > idleCapacity {
				q.events = nil
			}
			q.mu.Unlock()
			return batch, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, false
		}
		<-q.ready
	}
}
