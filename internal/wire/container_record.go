package wire

import (
	"encoding/json"
	"fmt"
	"time"
)

// Record is the stored form of a container event: type "container", tags
// naming its container, image, action and host (the store expands "a:b"
// into "a" and "a:b"), the event's own time, and as value exactly the JSON
// frame /events/ws sends, so replay from the store and live delivery are
// byte-identical.
func (e ContainerEvent) Record() Event {
	value, err := json.Marshal(e)
	if err != nil {
		// Strings, ints and a string map cannot fail to encode.
		panic(fmt.Sprintf("wire: encoding a container event: %v", err))
	}
	var tags []string
	for _, t := range [...]struct{ key, value string }{
		{"container", e.Name()},
		{"image", e.Image()},
		{"action", e.Action},
		{"host", e.Host},
	} {
		// An empty value would make a tag that matches nothing useful.
		if t.value != "" {
			tags = append(tags, t.key+":"+t.value)
		}
	}
	return Event{
		Type:      ContainerEventType,
		Tags:      tags,
		Timestamp: e.At(),
		Value:     value,
	}
}

// DecodeContainerEvent turns a stored container event (see
// ContainerEvent.Record) back into the frame it came from.
func DecodeContainerEvent(e Event) (ContainerEvent, error) {
	if e.Type != ContainerEventType {
		return ContainerEvent{}, fmt.Errorf("wire: event %d: type %q is not %q", e.ID, e.Type, ContainerEventType)
	}
	var ev ContainerEvent
	if err := json.Unmarshal(e.Value, &ev); err != nil {
		return ContainerEvent{}, fmt.Errorf("wire: event %d: decoding container event: %w", e.ID, err)
	}
	return ev, nil
}

// At is when the engine logged the event, to the nanosecond when known.
func (e ContainerEvent) At() time.Time {
	if e.TimeNano != 0 {
		return time.Unix(0, e.TimeNano).UTC()
	}
	return time.Unix(e.Time, 0).UTC()
}
