package docker

import (
	"context"
	"errors"

	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Ingest sizes: the queue absorbs the engine's bursts while a batch is being
// committed; a batch is what one durable commit takes at most.
const (
	DefaultIngestQueue = 8192
	maxIngestBatch     = 1024
)

// errOverflow ends a stream whose ingest queue filled: crowsnest resubscribes
// from its last stored event rather than drop what the engine sends.
var errOverflow = errors.New("ingest queue overflowed; resubscribing from the last stored event")

// enqueue hands ev to the writer without ever blocking the reader, so the
// engine's stream is read as fast as it is sent (an engine drops a
// subscriber that stays behind). It reports false when the queue is full.
func enqueue(queue chan<- wire.ContainerEvent, ev wire.ContainerEvent) bool {
	select {
	case queue <- ev:
		return true
	default:
		return false
	}
}

// writeQueue stores what arrives on queue in batches until queue is closed,
// storing what is left in it before it returns.
func (e *engine) writeQueue(ctx context.Context, queue <-chan wire.ContainerEvent) error {
	batch := make([]wire.ContainerEvent, 0, maxIngestBatch)
	for ev := range queue {
		batch = append(batch[:0], ev)
	drain:
		for len(batch) < maxIngestBatch {
			select {
			case ev, ok := <-queue:
				if !ok {
					break drain
				}
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		if err := e.storeBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// storeBatch stores the events of batch not stored yet, in one commit,
// retrying with backoff until it is durable or ctx ends: skipping it would
// lose it for good. Only then are they marked as seen.
func (e *engine) storeBatch(ctx context.Context, batch []wire.ContainerEvent) error {
	fresh := e.seen.fresh(batch)
	if len(fresh) == 0 {
		return nil
	}
	if e.kind == wire.EnginePodman {
		e.completeHealth(ctx, fresh)
	}
	b := backoff.Backoff{Min: e.minB, Max: e.maxB}
	for {
		err := e.journal.Store(ctx, fresh)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.log.Warn("events not stored, retrying", "events", len(fresh), "err", err)
		if !b.Wait(ctx) {
			return ctx.Err()
		}
	}
	for _, ev := range fresh {
		e.seen.add(ev)
	}
	return nil
}
