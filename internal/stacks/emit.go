package stacks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Message is one /stacks frame, encoded once for every socket client, with
// the stack it concerns so clients can filter on ?stack_id= without
// decoding.
type Message struct {
	StackID int64
	Frame   []byte
}

// storeBatch bounds how many messages go to the event store in one append.
const storeBatch = 256

// storeTimeout bounds one append of stack messages.
const storeTimeout = 30 * time.Second

// now is the message timestamp: UTC to the millisecond, as the spec's
// examples show ("2025-04-16T18:25:43.511Z").
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// emit publishes one socket message and queues it for the event store.
// Both happen under one lock so that socket clients and the store see a
// stack's messages in the same order. The store append is asynchronous
// (batched by storeLoop) so that a compose callback never waits on an
// fsync; a full queue does make it wait, rather than lose history.
func (m *Manager) emit(typ string, st wire.Stack, action string, data any) {
	frame, err := json.Marshal(wire.StackMessage{Type: typ, Data: data})
	if err != nil {
		// Ints, strings and times cannot fail to encode.
		panic(fmt.Sprintf("stacks: encoding a %s message: %v", typ, err))
	}
	value, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("stacks: encoding a %s message: %v", typ, err))
	}
	tags := []string{"message:" + typ}
	if st.Name != "" {
		tags = append(tags, "stack:"+st.Name)
	}
	if action != "" {
		tags = append(tags, "action:"+action)
	}
	if st.Host != "" {
		tags = append(tags, "host:"+st.Host)
	}
	ev := wire.Event{Type: wire.StackEventType, Tags: tags, Value: value, Timestamp: time.Now().UTC()}

	m.emitMu.Lock()
	defer m.emitMu.Unlock()
	m.hub.Publish(Message{StackID: st.ID, Frame: frame})
	if m.stored != nil {
		m.stored <- ev
	}
}

// The emit helpers scrub the message of st's .env values: it may quote
// compose's or the engine's words, which repeat interpolated values.
func (m *Manager) emitStatus(st wire.Stack, status, message string) {
	message = newEnvScrubber(st.Env).scrub(message)
	m.emit(wire.StackStatusType, st, "", wire.StackStatus{StackID: st.ID, Status: status, Message: message})
}

func (m *Manager) emitProgress(st wire.Stack, action, message string) {
	message = newEnvScrubber(st.Env).scrub(message)
	m.emit(wire.StackProgressType, st, action, wire.StackProgress{StackID: st.ID, Action: action, Message: message, Timestamp: now()})
}

func (m *Manager) emitError(st wire.Stack, action, message string) {
	message = newEnvScrubber(st.Env).scrub(message)
	m.emit(wire.StackErrorType, st, action, wire.StackProgress{StackID: st.ID, Action: action, Message: message, Timestamp: now()})
}

func (m *Manager) emitRemoved(st wire.Stack) {
	m.emit(wire.StackRemovedType, st, wire.ActionRemoving, wire.StackRemoved{StackID: st.ID, Message: "Stack removed successfully"})
}

// storeLoop appends queued messages to the event store in batches until
// the queue is closed, so a client connecting late can read what happened
// from /api/v1/events (type "stack").
func (m *Manager) storeLoop(queue <-chan wire.Event) {
	defer m.storeWG.Done()
	for ev := range queue {
		batch := []wire.Event{ev}
	more:
		for len(batch) < storeBatch {
			select {
			case e, ok := <-queue:
				if !ok {
					break more
				}
				batch = append(batch, e)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		if _, err := m.opts.Events.Append(ctx, batch...); err != nil {
			m.log.Error("storing stack messages", "count", len(batch), "err", err)
		}
		cancel()
	}
}
