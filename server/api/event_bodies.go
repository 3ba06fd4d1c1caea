package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/body"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// parseEventsBody reads a POST /api/v1/events body: one event object, or a list
// of them (list reports which, so the answer can have the same shape). Fields
// are tags (list of strings), type (string), value (any JSON or YAML value)
// and timestamp (RFC 3339 string); others, such as an id, are ignored. Each
// event is also checked against store.Normalize's rules so that a bad list is
// refused whole before anything is stored. Field errors are *store.FieldError;
// inside a list the field is prefixed with the item's index, as in
// "[2].tags". Body errors (size, depth, syntax) come from package body.
//
// The returned events are not normalised: defaults such as the timestamp
// are applied by Append, at the time of the write.
func parseEventsBody(f body.Format, data []byte) (events []wire.Event, list bool, err error) {
	var raw json.RawMessage
	if err := body.Decode(f, data, &raw); err != nil {
		return nil, false, fmt.Errorf("events body: %w", err)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, false, fieldErr("body", "expected an event or a list of events")
	}
	switch raw[0] {
	case '{':
		e, err := parseEvent(raw, "")
		if err != nil {
			return nil, false, err
		}
		return []wire.Event{e}, false, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, true, fmt.Errorf("events body: %w", err)
		}
		if len(items) == 0 {
			return nil, true, fieldErr("body", "the list holds no events")
		}
		events = make([]wire.Event, 0, len(items))
		for i, it := range items {
			e, err := parseEvent(it, fmt.Sprintf("[%d].", i))
			if err != nil {
				return nil, true, err
			}
			events = append(events, e)
		}
		return events, true, nil
	default:
		return nil, false, fieldErr("body", "expected an event or a list of events")
	}
}

// refuseReserved refuses events of a type only crowsnest itself records:
// the exec sessions' audit events, which a client must not be able to
// forge. It names the first such event as parseEventsBody names a bad one.
func refuseReserved(events []wire.Event, list bool) error {
	for i, e := range events {
		if e.Type != wire.ExecEventType {
			continue
		}
		field := "type"
		if list {
			field = fmt.Sprintf("[%d].type", i)
		}
		return fieldErr(field, `"`+wire.ExecEventType+`" is reserved: crowsnest records exec sessions itself`)
	}
	return nil
}

// parseEvent reads the fields one by one instead of unmarshalling into a
// struct: encoding/json matches keys case-insensitively and reports type
// errors with Go names, both of which would make errors harder to read.
func parseEvent(raw json.RawMessage, prefix string) (wire.Event, error) {
	var e wire.Event
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return e, fieldErr(prefix+"event", "must be an object")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return e, fieldErr(prefix+"event", err.Error())
	}
	if t, ok := obj["tags"]; ok && !isJSONNull(t) {
		if err := json.Unmarshal(t, &e.Tags); err != nil {
			return e, fieldErr(prefix+"tags", "must be a list of strings")
		}
	}
	if t, ok := obj["type"]; ok && !isJSONNull(t) {
		if err := json.Unmarshal(t, &e.Type); err != nil {
			return e, fieldErr(prefix+"type", "must be a string")
		}
	}
	if v, ok := obj["value"]; ok {
		e.Value = v
	}
	if t, ok := obj["timestamp"]; ok && !isJSONNull(t) {
		ts, err := parseBodyTime(t)
		if err != nil {
			return e, fieldErr(prefix+"timestamp", err.Error())
		}
		e.Timestamp = ts
	}
	// Validate now with any clock: only the checks matter here.
	if _, err := store.Normalize(e, time.Unix(0, 0)); err != nil {
		var fe *store.FieldError
		if errors.As(err, &fe) {
			return e, fieldErr(prefix+fe.Field, fe.Message)
		}
		return e, err
	}
	return e, nil
}

func isJSONNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func parseBodyTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, errors.New("must be an RFC 3339 string")
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("must be RFC 3339, like 2017-01-10T15:33:49.766Z: %q", s)
	}
	if ts.Before(store.MinTime) || ts.After(store.MaxTime) {
		return time.Time{}, errors.New("out of range (years 1678 to 2262)")
	}
	return ts, nil
}

// searchBody is Vamp's search body.
type searchBody struct {
	Tags       json.RawMessage            `json:"tags"`
	Type       json.RawMessage            `json:"type"`
	Timestamp  map[string]json.RawMessage `json:"timestamp"`
	Aggregator *struct {
		Type  json.RawMessage `json:"type"`
		Field json.RawMessage `json:"field"`
	} `json:"aggregator"`
}

// parseSearchBody reads Vamp's search body (GET /api/v1/events with a body):
//
//	{"tags": [...], "type": "...",
//	 "timestamp": {"lt"|"lte"|"gt"|"gte": RFC 3339},
//	 "aggregator": {"type": "average", "field": "cpu"}}
//
// Every part is optional; an empty body selects everything. The aggregator
// is nil when the body has none. The filter is validated (store.Filter.Validate)
// and errors are *store.FieldError naming the field.
func parseSearchBody(f body.Format, data []byte) (store.Filter, *store.Aggregator, error) {
	var flt store.Filter
	var raw json.RawMessage
	if err := body.Decode(f, data, &raw); err != nil {
		return flt, nil, fmt.Errorf("search body: %w", err)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isJSONNull(raw) {
		return flt, nil, nil
	}
	if raw[0] != '{' {
		return flt, nil, fieldErr("body", "expected a search object")
	}
	var sb searchBody
	if err := json.Unmarshal(raw, &sb); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return flt, nil, fieldErr(te.Field, "must be an object")
		}
		return flt, nil, fieldErr("body", err.Error())
	}
	if len(sb.Tags) > 0 && !isJSONNull(sb.Tags) {
		if err := json.Unmarshal(sb.Tags, &flt.Tags); err != nil {
			return flt, nil, fieldErr("tags", "must be a list of strings")
		}
	}
	if len(sb.Type) > 0 && !isJSONNull(sb.Type) {
		if err := json.Unmarshal(sb.Type, &flt.Type); err != nil {
			return flt, nil, fieldErr("type", "must be a string")
		}
	}
	for k, v := range sb.Timestamp {
		var dst **time.Time
		switch k {
		case "lt":
			dst = &flt.Lt
		case "lte":
			dst = &flt.Lte
		case "gt":
			dst = &flt.Gt
		case "gte":
			dst = &flt.Gte
		default:
			return flt, nil, fieldErr("timestamp."+k, "unknown bound (lt, lte, gt or gte)")
		}
		ts, err := parseBodyTime(v)
		if err != nil {
			return flt, nil, fieldErr("timestamp."+k, err.Error())
		}
		*dst = &ts
	}
	if err := flt.Validate(); err != nil {
		return flt, nil, err
	}
	if sb.Aggregator == nil {
		return flt, nil, nil
	}
	var agg store.Aggregator
	if len(sb.Aggregator.Type) > 0 && !isJSONNull(sb.Aggregator.Type) {
		if err := json.Unmarshal(sb.Aggregator.Type, &agg.Type); err != nil {
			return flt, nil, fieldErr("aggregator.type", "must be a string")
		}
	}
	if len(sb.Aggregator.Field) > 0 && !isJSONNull(sb.Aggregator.Field) {
		if err := json.Unmarshal(sb.Aggregator.Field, &agg.Field); err != nil {
			return flt, nil, fieldErr("aggregator.field", "must be a string")
		}
	}
	if err := agg.Validate(); err != nil {
		return flt, nil, err
	}
	return flt, &agg, nil
}

// fieldErr is the validation failure of one field of a body.
func fieldErr(field, msg string) *store.FieldError {
	return &store.FieldError{Field: field, Message: msg}
}
