package serverlog

import (
	"log/slog"
	"sync"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// DefaultRingSize is how many server log records a Ring keeps by default.
const DefaultRingSize = 1000

// Record is a server log record as the ring keeps it: the wire shape plus a
// sequence number, which grows by one per record so a subscriber can skip
// the records its backlog already held, and the slog level for filtering (Level is its wire name).
type Record struct {
	Seq      uint64
	Severity slog.Level
	wire.LogRecord
}

// Ring keeps the most recent server log records and publishes each new one
// to its subscribers. It is safe for concurrent use.
type Ring struct {
	mu   sync.Mutex
	buf  []Record // circular; start is the oldest when full
	next int      // where the next record goes
	full bool
	seq  uint64
	hub  *hub.Hub[Record]
}

// NewRing returns a ring keeping the last size records (DefaultRingSize
// when size < 1).
func NewRing(size int) *Ring {
	if size < 1 {
		size = DefaultRingSize
	}
	return &Ring{buf: make([]Record, size), hub: hub.New[Record]()}
}

// Cap is how many records the ring keeps.
func (r *Ring) Cap() int { return len(r.buf) }

// add numbers rec, keeps it and publishes it. Publishing happens under the
// lock so subscribers see records in sequence order; Publish never blocks.
func (r *Ring) add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	rec.Seq = r.seq
	r.buf[r.next] = rec
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
	r.hub.Publish(rec)
}

// Subscribe returns a live subscription whose queue holds up to queue
// records; a subscriber that falls further behind is ended with
// hub.ErrOverflow. Subscribe before calling Tail, then skip live records
// whose Seq is at or below Tail's last, and nothing is lost or repeated.
func (r *Ring) Subscribe(queue int) *hub.Subscription[Record] {
	return r.hub.Subscribe(queue)
}

// Tail returns, oldest first, the newest n records at or above min, and the
// sequence number of the newest record kept (whatever its level).
func (r *Ring) Tail(n int, min slog.Level) (recs []Record, last uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := r.next
	if r.full {
		size = len(r.buf)
	}
	// Walk newest to oldest, then reverse: n is usually far below the size.
	for i := 0; i < size && len(recs) < n; i++ {
		rec := r.buf[(r.next-1-i+len(r.buf))%len(r.buf)]
		if rec.Severity >= min {
			recs = append(recs, rec)
		}
	}
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, r.seq
}

// Close ends every subscription with hub.ErrClosed.
func (r *Ring) Close() { r.hub.Close() }
