package logs

import (
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// recent is a follower's memory of its latest lines, bounded by count and by
// bytes, from which new viewers get their backlog without asking the engine.
type recent struct {
	items    []wire.LogLine // oldest first
	bytes    int
	maxItems int
	maxBytes int
	evicted  bool // some line was forgotten: the memory no longer starts at the beginning
}

func newRecent(maxItems, maxBytes int) *recent {
	return &recent{maxItems: maxItems, maxBytes: maxBytes}
}

// add keeps l, forgetting the oldest lines beyond the bounds.
func (r *recent) add(l wire.LogLine) {
	r.items = append(r.items, l)
	r.bytes += len(l.Line)
	drop := 0
	for len(r.items)-drop > r.maxItems || (r.bytes > r.maxBytes && len(r.items)-drop > 1) {
		r.bytes -= len(r.items[drop].Line)
		drop++
	}
	if drop > 0 {
		r.evicted = true
		// Copy down rather than reslice so the array does not creep forward
		// and pin forgotten lines.
		n := copy(r.items, r.items[drop:])
		clear(r.items[n:])
		r.items = r.items[:n]
	}
}

// oldest is the timestamp of the oldest line kept, zero when none is.
func (r *recent) oldest() time.Time {
	if len(r.items) == 0 {
		return time.Time{}
	}
	return r.items[0].Timestamp
}

// since returns a copy of the lines stamped at or after t (all for a zero t).
func (r *recent) since(t time.Time) []wire.LogLine {
	i := 0
	if !t.IsZero() {
		for i < len(r.items) && r.items[i].Timestamp.Before(t) {
			i++
		}
	}
	return append([]wire.LogLine(nil), r.items[i:]...)
}
