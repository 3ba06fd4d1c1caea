package docker

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// EventRecord is the stored form of a container event: type "container",
// tags naming its container, image, action and host (the store expands
// "a:b" into "a" and "a:b"), the event's own time, and as value exactly the
// JSON frame /events/ws sends, so replay from the store and live delivery
// are byte-identical.
func EventRecord(ev wire.ContainerEvent) wire.Event {
	value, err := json.Marshal(ev)
	if err != nil {
		// Strings, ints and a string map cannot fail to encode.
		panic(fmt.Sprintf("docker: encoding a container event: %v", err))
	}
	var tags []string
	for _, t := range [...]struct{ key, value string }{
		{"container", ev.Name()},
		{"image", ev.Image()},
		{"action", ev.Action},
		{"host", ev.Host},
	} {
		// An empty value would make a tag that matches nothing useful.
		if t.value != "" {
			tags = append(tags, t.key+":"+t.value)
		}
	}
	return wire.Event{
		Type:      wire.ContainerEventType,
		Tags:      tags,
		Timestamp: eventTime(ev),
		Value:     value,
	}
}

// DecodeRecord turns a stored container event back into the frame it came
// from.
func DecodeRecord(e wire.Event) (wire.ContainerEvent, error) {
	if e.Type != wire.ContainerEventType {
		return wire.ContainerEvent{}, fmt.Errorf("event %d: type %q is not %q", e.ID, e.Type, wire.ContainerEventType)
	}
	var ev wire.ContainerEvent
	if err := json.Unmarshal(e.Value, &ev); err != nil {
		return wire.ContainerEvent{}, fmt.Errorf("event %d: decoding container event: %w", e.ID, err)
	}
	return ev, nil
}

// eventTime is the event's timestamp, to the nanosecond when known.
func eventTime(ev wire.ContainerEvent) time.Time {
	if ev.TimeNano != 0 {
		return time.Unix(0, ev.TimeNano).UTC()
	}
	return time.Unix(ev.Time, 0).UTC()
}
