package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Group commit: Append queues a request and waits; the single writer
// goroutine takes everything queued, writes it in one bbolt transaction (one
// fsync for all callers), publishes the events in id order and answers each
// caller. Under load the batches grow by themselves, so 64 concurrent POSTs
// cost a handful of fsyncs instead of 64.

// maxBatchEvents caps one transaction so a flood cannot build a huge one.
const maxBatchEvents = 10_000

const (
	reqPending int32 = iota
	reqTaken
	reqCancelled
)

type appendReq struct {
	events []wire.Event // normalised, ids filled by the writer
	state  atomic.Int32
	done   chan error // buffered: the writer never blocks on a caller
}

// Append normalises the events, queues them for the writer and waits for the
// commit. A caller whose ctx ends while its request is still queued gets
// ctx's error and its events are not written; once the writer has taken the
// request the outcome is the commit's, so an acknowledged write is never
// reported as failed.
func (s *boltStore) Append(ctx context.Context, events ...wire.Event) ([]wire.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: append: %w", err)
	}
	now := time.Now()
	req := &appendReq{events: make([]wire.Event, len(events)), done: make(chan error, 1)}
	for i, e := range events {
		n, err := Normalize(e, now)
		if err != nil {
			return nil, fmt.Errorf("store: append: event %d: %w", i, err)
		}
		n.ID = 0
		req.events[i] = n
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("store: append: %w", ErrClosed)
	}
	s.queue = append(s.queue, req)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see this request
	}

	var err error
	select {
	case err = <-req.done:
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqPending, reqCancelled) {
			return nil, fmt.Errorf("store: append: %w", ctx.Err())
		}
		err = <-req.done
	}
	if err != nil {
		return nil, fmt.Errorf("store: append: %w", err)
	}
	return req.events, nil
}

func (s *boltStore) writer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.wake:
			s.drain()
		case <-s.quit:
			// Close set closed before quit, so nothing more can be queued.
			s.drain()
			return
		}
	}
}

// drain commits batches until the queue is empty.
func (s *boltStore) drain() {
	for {
		batch := s.take()
		if len(batch) == 0 {
			return
		}
		s.commit(batch)
	}
}

// take removes up to maxBatchEvents worth of requests from the queue,
// skipping those whose callers gave up.
func (s *boltStore) take() []*appendReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	var batch []*appendReq
	n, i := 0, 0
	for ; i < len(s.queue); i++ {
		r := s.queue[i]
		if len(batch) > 0 && n+len(r.events) > maxBatchEvents {
			break
		}
		s.queue[i] = nil
		if r.state.CompareAndSwap(reqPending, reqTaken) {
			batch = append(batch, r)
			n += len(r.events)
		}
	}
	s.queue = s.queue[i:]
	if len(s.queue) == 0 {
		s.queue = nil
	}
	return batch
}

func (s *boltStore) commit(batch []*appendReq) {
	var all []wire.Event
	for _, r := range batch {
		all = append(all, r.events...)
	}
	for i := range all {
		all[i].ID = s.nextID + uint64(i)
	}
	var maxTs int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		maxTs, err = appendTx(tx, all, s.maxTs)
		return err
	})
	err = noSpace(err)
	s.full.Store(errors.Is(err, ErrNoSpace))
	if err != nil {
		// All or none: the transaction rolled back, so the in-memory
		// counters stay and the next batch reuses the ids.
		s.log.Error("event store commit failed", "events", len(all), "err", err)
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	k := 0
	for _, r := range batch {
		for i := range r.events {
			r.events[i].ID = all[k].ID
			k++
		}
	}
	s.nextID += uint64(len(all))
	s.maxTs = maxTs
	s.publish(all)
	for _, r := range batch {
		r.done <- nil
	}
}

// appendFill is how full bbolt packs a page it splits in the buckets that
// grow at the end of a key run (ids, timestamps, index sequences). bbolt's
// default halves every split page, which suits random inserts: here the
// left half is never written again, so half of every page stays empty and
// each commit reads and copies twice the entries it needs to. 0.9 rather
// than 1 leaves room for the occasional out-of-order key (an old timestamp,
// a new tag name) without splitting again at once.
const appendFill = 0.9

// publish makes committed events visible: LastID first, so a subscriber
// that reads LastID after subscribing either sees them in history or
// receives them live; then the hub, in id order. They go out as pointers:
// a queue slot is then a word instead of a whole event, which matters at a
// thousand subscribers with deep queues.
func (s *boltStore) publish(events []wire.Event) {
	s.lastID.Store(events[len(events)-1].ID)
	for i := range events {
		s.hub.Publish(&events[i])
	}
}

// appendTx writes events under their ids, which must be increasing and
// above every stored id, and returns the new running maximum timestamp.
func appendTx(tx *bolt.Tx, events []wire.Event, maxTs int64) (int64, error) {
	evb, tb, meta := tx.Bucket(bkEvents), tx.Bucket(bkTime), tx.Bucket(bkMeta)
	tags, types := newIxWriter(tx, tagIndex), newIxWriter(tx, typeIndex)
	for _, b := range []*bolt.Bucket{evb, tb, tags.entries, types.entries} {
		b.FillPercent = appendFill
	}
	for i := range events {
		e := &events[i]
		ts := e.Timestamp.UnixNano()
		maxTs = max(maxTs, ts)
		if err := evb.Put(idKey(e.ID), encodeRecord(*e, maxTs)); err != nil {
			return 0, fmt.Errorf("event %d: %w", e.ID, err)
		}
		if err := tb.Put(timeKey(ts, e.ID), nil); err != nil {
			return 0, fmt.Errorf("time index: %w", err)
		}
		for _, t := range e.Tags {
			if err := tags.add(t, e.ID); err != nil {
				return 0, err
			}
		}
		if err := types.add(e.Type, e.ID); err != nil {
			return 0, err
		}
	}
	if err := tags.flush(); err != nil {
		return 0, err
	}
	if err := types.flush(); err != nil {
		return 0, err
	}
	if err := putUint(meta, keyLastID, events[len(events)-1].ID); err != nil {
		return 0, err
	}
	if err := putUint(meta, keyMaxTs, uint64(maxTs)); err != nil {
		return 0, err
	}
	if err := putUint(meta, keyCount, getUint(meta, keyCount)+uint64(len(events))); err != nil {
		return 0, err
	}
	return maxTs, nil
}
