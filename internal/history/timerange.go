package history

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Range is a validated query range.
type Range struct{ From, To time.Time }

// RangeError is a range a query cannot answer: the API answers 400 with
// Reason.
type RangeError struct{ Reason string }

func (e *RangeError) Error() string { return "history: " + e.Reason }

// Ranges are the named ranges of ?range=, shortest first.
var Ranges = []struct {
	Name string
	Span time.Duration
}{
	{"15m", 15 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour},
	{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour},
}

// DefaultRange is the range of a query that names none.
const DefaultRange = "1h"

// ParseRange reads the query parameters range, from and to: either a named
// range ending now, or from (and optionally to, default now) as RFC 3339
// times or Unix seconds. Neither means DefaultRange. The errors are
// *RangeError: both forms at once, an unknown range, an unreadable time,
// from not before to, or a start beyond the retention.
func (s *Store) ParseRange(rng, from, to string) (Range, error) {
	return parseRange(rng, from, to, s.now(), s.Retention())
}

func parseRange(rng, from, to string, now time.Time, retention time.Duration) (Range, error) {
	if rng != "" && (from != "" || to != "") {
		return Range{}, &RangeError{"give either range or from/to, not both"}
	}
	if rng == "" && from == "" && to == "" {
		rng = DefaultRange
	}
	var r Range
	if rng != "" {
		span, ok := namedRange(rng)
		if !ok {
			return Range{}, &RangeError{fmt.Sprintf("unknown range %q: want %s", rng, rangeNames())}
		}
		r = Range{From: now.Add(-span), To: now}
	} else {
		if from == "" {
			return Range{}, &RangeError{"to needs a from"}
		}
		var err error
		if r.From, err = parseTime("from", from); err != nil {
			return Range{}, err
		}
		r.To = now
		if to != "" {
			if r.To, err = parseTime("to", to); err != nil {
				return Range{}, err
			}
		}
		if !r.From.Before(r.To) {
			return Range{}, &RangeError{fmt.Sprintf("from (%s) is not before to (%s)", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))}
		}
	}
	if oldest := now.Add(-retention); r.From.Before(oldest) {
		return Range{}, &RangeError{fmt.Sprintf("the range starts %s, beyond the retention of %s (the oldest kept is %s)",
			r.From.Format(time.RFC3339), days(retention), oldest.Format(time.RFC3339))}
	}
	return r, nil
}

func namedRange(name string) (time.Duration, bool) {
	for _, r := range Ranges {
		if r.Name == name {
			return r.Span, true
		}
	}
	return 0, false
}

func rangeNames() string {
	names := make([]string, len(Ranges))
	for i, r := range Ranges {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

// parseTime reads an RFC 3339 time or Unix seconds.
func parseTime(param, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	return time.Time{}, &RangeError{fmt.Sprintf("%s %q is neither an RFC 3339 time nor Unix seconds", param, v)}
}

// days words a retention: whole days as "30d", anything else as Go does.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
