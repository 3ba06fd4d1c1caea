package natsstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// message is an event as the stream holds it: JSON, so that the stream can
// be read with the nats tool; the id is the message's sequence.
type message struct {
	Type      string          `json:"type"`
	Tags      []string        `json:"tags"`
	Timestamp time.Time       `json:"timestamp"`
	Value     json.RawMessage `json:"value"`
}

func encode(e wire.Event) ([]byte, error) {
	b, err := json.Marshal(message{Type: e.Type, Tags: e.Tags, Timestamp: e.Timestamp, Value: e.Value})
	if err != nil {
		return nil, fmt.Errorf("encoding event: %w", err)
	}
	return b, nil
}

// invalidType is the type of the stand-in applied for a message that is not
// an event (written to the subject by something other than crowsnest): the
// view must hold every sequence, and the stand-in says what went wrong.
const invalidType = "invalid"

// decode turns a stream message into the event it holds, ok false when the
// message has no stream metadata (it did not come from the stream).
func decode(m jetstream.Msg) (wire.Event, bool) {
	meta, err := m.Metadata()
	if err != nil {
		return wire.Event{}, false
	}
	var msg message
	if err := json.Unmarshal(m.Data(), &msg); err != nil || msg.Type == "" || len(msg.Tags) == 0 {
		why, _ := json.Marshal(map[string]string{"error": fmt.Sprintf("stream message %d is not a crowsnest event: %v", meta.Sequence.Stream, err)})
		return wire.Event{ID: meta.Sequence.Stream, Type: invalidType, Tags: []string{invalidType}, Timestamp: meta.Timestamp.UTC(), Value: why}, true
	}
	value := msg.Value
	if len(value) == 0 {
		value = json.RawMessage(`""`)
	}
	return wire.Event{ID: meta.Sequence.Stream, Type: msg.Type, Tags: msg.Tags, Timestamp: msg.Timestamp.UTC(), Value: value}, true
}
