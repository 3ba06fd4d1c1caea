package store

import (
	"math"
	"slices"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Validate reports a filter that cannot be meant: both bounds of the same
// side (lt with lte, gt with gte), an empty tag, or a type no event can have.
// Errors are *FieldError.
func (f Filter) Validate() error {
	if f.Lt != nil && f.Lte != nil {
		return fieldErr("timestamp", "lt and lte are exclusive")
	}
	if f.Gt != nil && f.Gte != nil {
		return fieldErr("timestamp", "gt and gte are exclusive")
	}
	for _, t := range f.Tags {
		if t == "" {
			return fieldErr("tags", "empty tag")
		}
	}
	if f.Type != "" {
		if err := checkType(f.Type); err != nil {
			return err
		}
	}
	return nil
}

// Match reports whether e satisfies every condition of f: all tags (AND),
// the type, and the timestamp bounds.
func (f Filter) Match(e wire.Event) bool {
	if f.Type != "" && e.Type != f.Type {
		return false
	}
	for _, t := range f.Tags {
		if !slices.Contains(e.Tags, t) {
			return false
		}
	}
	return f.matchTime(e.Timestamp)
}

func (f Filter) matchTime(ts time.Time) bool {
	switch {
	case f.Lt != nil && !ts.Before(*f.Lt):
		return false
	case f.Lte != nil && ts.After(*f.Lte):
		return false
	case f.Gt != nil && !ts.After(*f.Gt):
		return false
	case f.Gte != nil && ts.Before(*f.Gte):
		return false
	}
	return true
}

func (f Filter) hasTime() bool {
	return f.Lt != nil || f.Lte != nil || f.Gt != nil || f.Gte != nil
}

// nanoBounds turns the timestamp bounds into one inclusive range of Unix
// nanoseconds, the unit of the time index and of stored records. Bounds
// outside the representable range are clamped, which is exact because no
// stored event lies outside it.
func (f Filter) nanoBounds() (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if f.Gte != nil {
		lo = clampNano(*f.Gte)
	}
	if f.Gt != nil {
		lo = clampNano(*f.Gt)
		if f.Gt.Before(MinTime) {
			lo = math.MinInt64
		} else if lo == math.MaxInt64 {
			return 1, 0
		} else {
			lo++
		}
	}
	if f.Lte != nil {
		hi = clampNano(*f.Lte)
	}
	if f.Lt != nil {
		hi = clampNano(*f.Lt)
		if f.Lt.After(MaxTime) {
			hi = math.MaxInt64
		} else if hi == math.MinInt64 {
			return 1, 0
		} else {
			hi--
		}
	}
	return lo, hi
}

func clampNano(t time.Time) int64 {
	switch {
	case t.Before(MinTime):
		return math.MinInt64
	case t.After(MaxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// distinctTags returns f.Tags without repeats, so that [a a] plans like [a].
func (f Filter) distinctTags() []string {
	if len(f.Tags) < 2 {
		return f.Tags
	}
	out := make([]string, 0, len(f.Tags))
	for _, t := range f.Tags {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
