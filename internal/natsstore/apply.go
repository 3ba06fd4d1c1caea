package natsstore

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Applying: the ordered consumer hands each message to receive, in stream
// order; the applier takes what has arrived, up to applyBatch, and applies
// it to the view in one commit, so catching up on a long stream costs one
// fsync per batch rather than per event.
const (
	inboxSize  = 8192
	applyBatch = 4096
)

// receive is the consumer's handler: it queues m for the applier, waiting
// while the queue is full so the stream is never read ahead of the view by
// more than the queue.
func (s *Store) receive(m jetstream.Msg) {
	select {
	case s.inbox <- m:
	case <-s.quit:
	}
}

// apply moves queued messages into the view until ctx ends.
func (s *Store) apply(ctx context.Context) {
	for {
		// A new slice each time: the view hands its events to subscribers.
		var batch []wire.Event
		select {
		case m := <-s.inbox:
			batch = s.add(batch, m)
		case <-ctx.Done():
			return
		}
	more:
		for len(batch) < applyBatch {
			select {
			case m := <-s.inbox:
				batch = s.add(batch, m)
			default:
				break more
			}
		}
		if !s.applyBatch(ctx, batch) {
			return
		}
	}
}

func (s *Store) add(batch []wire.Event, m jetstream.Msg) []wire.Event {
	e, ok := decode(m)
	if !ok {
		s.log.Error("message without stream metadata on the stream consumer", "subject", m.Subject())
		return batch
	}
	if e.Type == invalidType {
		s.log.Error("stream message is not a crowsnest event; stored as an invalid event", "id", e.ID)
	}
	return append(batch, e)
}

// applyBatch applies batch, retrying while the view fails (a full disk):
// dropping the batch would leave a hole in the view. It reports false when
// ctx ended first.
func (s *Store) applyBatch(ctx context.Context, batch []wire.Event) bool {
	b := backoff.Backoff{Min: s.opts.MinBackoff, Max: s.opts.MaxBackoff}
	for {
		err := s.view.Apply(batch)
		if err == nil {
			s.applied.advance()
			return true
		}
		s.log.Error("applying the stream to the local view failed; retrying", "err", err)
		if !b.Wait(ctx) {
			return false
		}
	}
}

// progress tells waiters that the view applied more: changed returns a
// channel closed at the next advance.
type progress struct {
	mu sync.Mutex
	ch chan struct{}
}

func newProgress() *progress { return &progress{ch: make(chan struct{})} }

func (p *progress) changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ch
}

func (p *progress) advance() {
	p.mu.Lock()
	close(p.ch)
	p.ch = make(chan struct{})
	p.mu.Unlock()
}
