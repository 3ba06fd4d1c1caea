package logs

import (
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// An engine may stamp log entries to the second only: Podman's log API
// drops the fraction, though it still keeps since and until to the
// nanosecond. Entries of one second then share a stamp, so a stamp can no
// longer tell where one request's entries end and another's begin: the
// follow after history and the backlog before memory each re-read the
// whole second at their edge, and crowsnest drops what it re-reads by
// matching the entries themselves (see handover, skipper and sendOlder).

// coarseStamps reports whether every entry history saw is stamped to the
// whole second, as an engine that drops the fraction stamps them (an
// engine that keeps it stamps a whole second once in a billion).
func coarseStamps(seen []seenEntry) bool {
	return wholeSeconds(seen, func(e seenEntry) time.Time { return e.ts })
}

// coarseLines is coarseStamps for lines in memory.
func coarseLines(lines []wire.LogLine) bool {
	return wholeSeconds(lines, func(l wire.LogLine) time.Time { return l.Timestamp })
}

// wholeSeconds reports whether there are items and every one's stamp is a
// whole second.
func wholeSeconds[T any](items []T, stamp func(T) time.Time) bool {
	for _, it := range items {
		if stamp(it).Nanosecond() != 0 {
			return false
		}
	}
	return len(items) > 0
}

// firstSecond counts the lines stamped like the first: with coarse stamps,
// those of memory a backlog request up to the end of that second re-reads.
func firstSecond(lines []wire.LogLine) int {
	n := 0
	for n < len(lines) && lines[n].Timestamp.Equal(lines[0].Timestamp) {
		n++
	}
	return n
}

// endOfSecond is the last nanosecond of the second t starts.
func endOfSecond(t time.Time) time.Time { return t.Add(time.Second - time.Nanosecond) }

// beforeMemory cuts the lines of memory's first second, as a backlog
// request reread them, where memory's own lines of that second start: what
// comes before is older than memory. After them come memory's and, when
// memory holds nothing later, the lines written since in the same second.
// It cuts at the last place they match, so that runs of identical lines
// are sent twice rather than lost; where they match nowhere the log changed
// under the two requests, and the whole second is kept for the same reason.
func beforeMemory(second, memory []wire.LogLine) []wire.LogLine {
	for i := len(second) - len(memory); i >= 0; i-- {
		if equalLines(second[i:i+len(memory)], memory) {
			return second[:i]
		}
	}
	return second
}

// equalLines reports whether a and b hold the same lines.
func equalLines(a, b []wire.LogLine) bool {
	for i := range b {
		if a[i].Stream != b[i].Stream || a[i].Line != b[i].Line || a[i].Partial != b[i].Partial || !a[i].Timestamp.Equal(b[i].Timestamp) {
			return false
		}
	}
	return true
}
