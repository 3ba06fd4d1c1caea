package natsstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// MaxAtomicEvents is the most events one Append stores all or none: the
// size limit of a JetStream atomic batch (the servers' default).
const MaxAtomicEvents = 1000

// Headers of JetStream's atomic batch publish.
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

// Append stores events all or none: one event as one message, several as
// one JetStream atomic batch. It returns once JetStream acknowledged the
// write and this replica's view applied it; should ctx end after the
// acknowledgement, the events are stored and returned without waiting for
// the view. A write NATS did not acknowledge is store.ErrUnavailable
// (after a timeout it may have been stored all the same).
func (s *Store) Append(ctx context.Context, events ...wire.Event) ([]wire.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if len(events) > MaxAtomicEvents {
		return nil, fmt.Errorf("natsstore: append: %w", &store.FieldError{Field: "events",
			Message: fmt.Sprintf("%d events in one request; the NATS store takes at most %d at once", len(events), MaxAtomicEvents)})
	}
	out, msgs, err := s.prepare(events, nil)
	if err != nil {
		return nil, err
	}
	js, nc, err := s.conn()
	if err != nil {
		return nil, fmt.Errorf("natsstore: append: %w", err)
	}
	var last uint64
	if len(msgs) == 1 {
		ack, err := js.PublishMsg(ctx, msgs[0])
		if err != nil {
			return nil, fmt.Errorf("natsstore: append: %w: publishing: %w", store.ErrUnavailable, err)
		}
		last = ack.Sequence
	} else if last, err = publishBatch(ctx, js, nc, msgs); err != nil {
		return nil, fmt.Errorf("natsstore: append: %w: %w", store.ErrUnavailable, err)
	}
	for i := range out {
		out[i].ID = last - uint64(len(out)-1-i)
	}
	return s.settle(ctx, out, last), nil
}

// AppendKeyed stores events with keys[i] as the Nats-Msg-Id of events[i]:
// JetStream stores a key once within DuplicateWindow and acknowledges a
// repeat with the sequence it stored first. The messages are published
// together and each acknowledged on its own (a batch with a repeat in it
// would be refused whole), so an error may leave some stored; calling again
// stores the rest and no event twice.
func (s *Store) AppendKeyed(ctx context.Context, keys []string, events ...wire.Event) ([]wire.Event, error) {
	if len(keys) != len(events) {
		return nil, fmt.Errorf("natsstore: append: %d keys for %d events", len(keys), len(events))
	}
	if len(events) == 0 {
		return nil, nil
	}
	out, msgs, err := s.prepare(events, keys)
	if err != nil {
		return nil, err
	}
	js, _, err := s.conn()
	if err != nil {
		return nil, fmt.Errorf("natsstore: append: %w", err)
	}
	acks := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		if acks[i], err = js.PublishMsgAsync(m); err != nil {
			return nil, fmt.Errorf("natsstore: append: %w: publishing: %w", store.ErrUnavailable, err)
		}
	}
	var last uint64
	for i, f := range acks {
		select {
		case ack := <-f.Ok():
			out[i].ID = ack.Sequence
			last = max(last, ack.Sequence)
		case err := <-f.Err():
			return nil, fmt.Errorf("natsstore: append: %w: publishing: %w", store.ErrUnavailable, err)
		case <-ctx.Done():
			return nil, fmt.Errorf("natsstore: append: %w", ctx.Err())
		}
	}
	return s.settle(ctx, out, last), nil
}

// prepare normalises events as the bbolt store does and makes their
// messages, keyed when keys is not nil.
func (s *Store) prepare(events []wire.Event, keys []string) ([]wire.Event, []*nats.Msg, error) {
	now := time.Now()
	maxPayload := s.maxPayload()
	out := make([]wire.Event, len(events))
	msgs := make([]*nats.Msg, len(events))
	for i, e := range events {
		n, err := store.Normalize(e, now)
		if err != nil {
			return nil, nil, fmt.Errorf("natsstore: append: event %d: %w", i, err)
		}
		n.ID = 0
		body, err := encode(n)
		if err != nil {
			return nil, nil, fmt.Errorf("natsstore: append: event %d: %w", i, err)
		}
		if maxPayload > 0 && int64(len(body)) > maxPayload-1024 {
			return nil, nil, fmt.Errorf("natsstore: append: event %d: %w", i, &store.FieldError{Field: "value",
				Message: fmt.Sprintf("the event takes %d bytes; the NATS servers take at most %d in one message (their max_payload)", len(body), maxPayload)})
		}
		out[i] = n
		msgs[i] = &nats.Msg{Subject: Subject, Data: body, Header: nats.Header{}}
		if keys != nil {
			msgs[i].Header.Set(jetstream.MsgIDHeader, keys[i])
		}
	}
	return out, msgs, nil
}

// maxPayload is the servers' message size limit, 0 before connecting.
func (s *Store) maxPayload() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc == nil {
		return 0
	}
	return s.nc.MaxPayload()
}

// settle waits until the view applied seq, for read-your-write on this
// replica, and returns events. An ended ctx cuts the wait short without an
// error: the events are stored all the same.
func (s *Store) settle(ctx context.Context, events []wire.Event, seq uint64) []wire.Event {
	if err := s.waitApplied(ctx, seq); err != nil && !errors.Is(err, store.ErrClosed) && ctx.Err() == nil {
		s.log.Warn("event stored but not yet applied to the local view", "id", seq, "err", err)
	}
	return events
}

// publishBatch publishes msgs as one atomic batch: the messages before the
// last go without waiting for an answer, the last commits the batch and
// is acknowledged with the sequence of the last message. The server
// refuses the whole batch if any message is missing. It returns that
// sequence.
func publishBatch(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, msgs []*nats.Msg) (uint64, error) {
	id, err := batchID()
	if err != nil {
		return 0, err
	}
	for i, m := range msgs {
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := nc.PublishMsg(m); err != nil {
				return 0, fmt.Errorf("publishing batch: %w", err)
			}
		}
	}
	last := msgs[len(msgs)-1]
	last.Header.Set(hdrBatchCommit, "1")
	ack, err := js.PublishMsg(ctx, last)
	if err != nil {
		return 0, fmt.Errorf("committing batch: %w", err)
	}
	return ack.Sequence, nil
}

func batchID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("batch id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
