package logs

import (
	"bytes"
	"hash/fnv"
	"time"
)

// handoverSkew is how far before the cut the follow starts reading again.
// The engine stamps an entry before it writes it, and it writes stdout and
// stderr from separate goroutines, so an entry can land in the log just
// after one stamped later: history may have ended between the two, missing
// an entry older than the newest one it saw.
const handoverSkew = time.Second

// seenEntry is an engine entry that history passed on, as much of it as the
// follow needs to recognise it when it reads it again.
type seenEntry struct {
	stream string
	ts     time.Time
	size   int
	sum    uint64
	ends   bool // it ends a line
}

func newSeenEntry(stream string, ts time.Time, content []byte) seenEntry {
	h := fnv.New64a()
	_, _ = h.Write(content) // a hash.Hash never fails to write
	return seenEntry{stream: stream, ts: ts, size: len(content), sum: h.Sum64(), ends: bytes.HasSuffix(content, []byte{'\n'})}
}

// same reports whether e and o are the same entry. Stamps compare with
// Equal: how a time was parsed must not make one entry two.
func (e seenEntry) same(o seenEntry) bool {
	return e.stream == o.stream && e.ts.Equal(o.ts) && e.size == o.size && e.sum == o.sum && e.ends == o.ends
}

// handover decides where the follow starts after history, so that the two
// together hold every entry once.
//
// The cut cannot be "just after the newest history entry": the engine's
// json-file driver cuts a long line into 16 KiB entries that all carry the
// timestamp of the first one, so when history is read while a long line is
// being written, the rest of that line is stamped no later than what
// history already has. Nor is the newest stamp a safe cut for the other
// stream (see handoverSkew). So the follow starts early, at since, and
// re-reads the entries of history stamped at or after since; both requests
// read the log in the order it was written, so these come first and in
// history's order, and the follow drops them by matching them against skip.
//
// That holds only if no entry before history is stamped at or after since,
// which a tail (complete false) does not promise: the entries before it may
// be pieces of a line it starts inside of, or lines of the other stream
// written meanwhile, all stamped no earlier than the line's first piece. An
// entry history knows to start a line (its stream's previous entry in
// history ended one) was stamped when it was written, after every entry
// before history was stamped, so since stays after the first of those.
// Losing entries is worse than sending some twice, so that floor gives way
// to the cut.
//
// With coarse stamps (see coarseStamps) no floor keeps the entries before a
// tail out: those sharing its first second are re-read ahead of it, and the
// skipper drops them too.
//
// pendingStart is the timestamp of the oldest entry of a line history ended
// in the middle of (zero when none); its rest is stamped no earlier.
func handover(seen []seenEntry, pendingStart time.Time, complete bool) (since time.Time, sk skipper) {
	var newest, firstFresh time.Time
	ended := make(map[string]bool, 2) // by stream: its previous entry ended a line
	for _, e := range seen {
		if e.ts.After(newest) {
			newest = e.ts
		}
		if ended[e.stream] && firstFresh.IsZero() {
			firstFresh = e.ts
		}
		ended[e.stream] = e.ends
	}
	if newest.IsZero() {
		// Nothing stamped (or nothing at all): follow from the start and
		// recognise all of history there.
		return time.Time{}, skipper{skip: seen}
	}
	cut := newest
	if !pendingStart.IsZero() && pendingStart.Before(cut) {
		cut = pendingStart
	}
	since = cut.Add(-handoverSkew)
	coarse := coarseStamps(seen)
	if !complete && !coarse {
		floor := cut // nothing in history bounds older stamps: re-read the least
		if !firstFresh.IsZero() {
			floor = firstFresh.Add(time.Nanosecond)
		}
		if since.Before(floor) {
			since = floor
			if cut.Before(since) {
				since = cut
			}
		}
	}
	for _, e := range seen {
		if !e.ts.Before(since) {
			sk.skip = append(sk.skip, e)
		}
	}
	sk.older = coarse && !complete
	return since, sk
}

// skipper drops the follow's first entries while they are the ones history
// already passed on. At the first entry that differs it stops dropping for
// good: the log changed under the two requests (rotated away, say), and
// sending an entry twice is better than losing one.
type skipper struct {
	skip []seenEntry
	// older also drops, until the first entry of skip comes, the entries
	// stamped no later than it: with coarse stamps the follow re-reads
	// the entries before a tail that share its first second.
	older   bool
	matched bool
}

// seen reports whether the entry is the next one history already had (or,
// with older, one from before it), and so is to be dropped.
func (s *skipper) seen(stream string, ts time.Time, content []byte) bool {
	if len(s.skip) == 0 {
		return false
	}
	if newSeenEntry(stream, ts, content).same(s.skip[0]) {
		s.skip = s.skip[1:]
		s.matched = true
		return true
	}
	if s.older && !s.matched && !ts.After(s.skip[0].ts) {
		return true
	}
	s.skip = nil
	return false
}
