package wire

import (
	"encoding/json"
	"time"
)

// Event is a stored event as Vamp's events API returns it. ID is assigned by
// the store: ids grow with every append, so they order events by arrival and
// serve as the SSE "id:" for resuming.
type Event struct {
	ID        uint64          `json:"id"`
	Tags      []string        `json:"tags"`
	Value     json.RawMessage `json:"value"`
	Timestamp time.Time       `json:"timestamp"`
	Type      string          `json:"type"`
}

// DefaultEventType is the type an event gets when its body names none.
const DefaultEventType = "event"

// ContainerEventType is the type under which engine container events are stored.
const ContainerEventType = "container"
