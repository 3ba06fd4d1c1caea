package store

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// FieldError is a validation failure of one field of an event or a search.
// The HTTP layer answers it with 400 and its text.
type FieldError struct {
	Field   string // e.g. "tags", "timestamp.lt", "[2].type"
	Message string
}

// Error names the field first so the message stands on its own.
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, msg string) *FieldError { return &FieldError{Field: field, Message: msg} }

// Size limits of what Normalize accepts. They keep index keys well under
// bbolt's key limit and stop one oversized event from failing the group
// commit it shares with others.
const (
	MaxTagLen   = 1024
	MaxTypeLen  = 256
	MaxTags     = 256
	MaxValueLen = 4 << 20
)

// MinTime and MaxTime bound the timestamps the store keeps: they must fit
// int64 nanoseconds since 1970 (years 1678 to 2262), because that is how
// the time index orders them.
var (
	MinTime = time.Unix(0, math.MinInt64).UTC()
	MaxTime = time.Unix(0, math.MaxInt64).UTC()
)

var blankValue = json.RawMessage(`""`)

// Normalize applies Vamp's rules to an event before it is stored and returns
// the event as it will be stored (without an id):
//   - at least one tag, none empty; a combined tag "a:b" also yields "a"
//     (split at the first ':' only, so "a:b:c" gives "a" and "a:b:c");
//     duplicates are dropped, keeping first-seen order;
//   - type defaults to wire.DefaultEventType and must match ^[\w-]+$;
//   - a zero timestamp becomes now; every timestamp is converted to UTC so
//     that what Append returns is exactly what a later Query returns;
//   - an absent, empty or null value becomes "" (Vamp's "blank"); other
//     values must be valid JSON and are stored compacted.
//
// Errors are *FieldError.
func Normalize(e wire.Event, now time.Time) (wire.Event, error) {
	out := wire.Event{ID: e.ID}
	if len(e.Tags) == 0 {
		return out, fieldErr("tags", "at least one tag is required")
	}
	tags := make([]string, 0, len(e.Tags)*2)
	seen := make(map[string]struct{}, len(e.Tags)*2)
	add := func(t string) {
		if _, ok := seen[t]; !ok {
			seen[t] = struct{}{}
			tags = append(tags, t)
		}
	}
	for _, t := range e.Tags {
		if err := checkTag(t); err != nil {
			return out, err
		}
		if i := strings.IndexByte(t, ':'); i > 0 {
			add(t[:i])
		}
		add(t)
	}
	if len(tags) > MaxTags {
		return out, fieldErr("tags", "too many tags (limit 256 after expanding combined tags)")
	}
	out.Tags = tags

	out.Type = e.Type
	if out.Type == "" {
		out.Type = wire.DefaultEventType
	}
	if err := checkType(out.Type); err != nil {
		return out, err
	}

	ts := e.Timestamp
	if ts.IsZero() {
		ts = now
	}
	ts = ts.UTC()
	if ts.Before(MinTime) || ts.After(MaxTime) {
		return out, fieldErr("timestamp", "out of range (years 1678 to 2262)")
	}
	out.Timestamp = ts

	v := bytes.TrimSpace(e.Value)
	switch {
	case len(v) == 0 || bytes.Equal(v, []byte("null")):
		out.Value = blankValue
	case len(v) > MaxValueLen:
		return out, fieldErr("value", "too large")
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return out, fieldErr("value", "not valid JSON: "+err.Error())
		}
		out.Value = json.RawMessage(buf.Bytes())
	}
	return out, nil
}

func checkTag(t string) error {
	switch {
	case t == "":
		return fieldErr("tags", "empty tag")
	case len(t) > MaxTagLen:
		return fieldErr("tags", "tag longer than 1024 bytes")
	case !utf8.ValidString(t):
		return fieldErr("tags", "tag is not valid UTF-8")
	case strings.IndexByte(t, 0) >= 0:
		// NUL separates the tag from the sequence number in index keys.
		return fieldErr("tags", "tag contains a NUL character")
	}
	return nil
}

func checkType(t string) error {
	if len(t) > MaxTypeLen {
		return fieldErr("type", "longer than 256 bytes")
	}
	if !validType(t) {
		return fieldErr("type", `must match ^[\w-]+$ (letters, digits, '_' and '-')`)
	}
	return nil
}

// validType is ^[\w-]+$ with RE2's ASCII \w, without the regexp machinery.
func validType(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
