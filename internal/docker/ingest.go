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

// writeQueue stores what arrives in queue, in batches of up to
// maxIngestBatch, until queue is closed, storing what is left in it
// before it returns.
func (e *engine) writeQueue(ctx context.Context, queue *backlog) error {
	for {
		batch, ok := queue.take(maxIngestBatch)
		if !ok {
			return nil
		}
		if err := e.storeBatch(ctx, batch); err != nil {
			return err
		}
	}
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
