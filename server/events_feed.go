package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// feedQueue is the feed's own queue on the store: it only decodes, so it
// falls behind only under a burst far beyond any engine's event rate.
const feedQueue = 1 << 16

// feedItem is a stored container event, decoded once for every /events/ws
// client to filter on, with the frame they send ready-made.
type feedItem struct {
	ID    uint64
	Event wire.ContainerEvent
	Frame []byte
}

// eventFeed turns the store's stream into container events for /events/ws:
// one decoding for all clients instead of one per client.
type eventFeed struct {
	log *slog.Logger
	mu  sync.Mutex
	hub *hub.Hub[feedItem]
}

func newEventFeed(log *slog.Logger) *eventFeed {
	return &eventFeed{log: log, hub: hub.New[feedItem]()}
}

// subscribe returns a subscription to the container events stored from now on.
func (f *eventFeed) subscribe(size int) *hub.Subscription[feedItem] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hub.Subscribe(size)
}

// clients is the number of current subscribers.
func (f *eventFeed) clients() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hub.Len()
}

// dropped is the number of subscribers cut off as too slow.
func (f *eventFeed) dropped() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hub.Dropped()
}

// run feeds from st until ctx ends. Should the feed itself fall behind the
// store, its clients are ended (they resume with since) rather than left
// with a silent gap.
func (f *eventFeed) run(ctx context.Context, st store.Store) {
	for ctx.Err() == nil {
		sub := st.Subscribe(feedQueue)
		err := f.pump(ctx, sub)
		sub.Close()
		if errors.Is(err, hub.ErrOverflow) {
			f.log.Error("event feed fell behind the store; ending its clients so they resume", "err", err)
			f.restart()
			continue
		}
		if err != nil {
			f.log.Debug("event feed stopped", "err", err)
		}
		break
	}
	f.mu.Lock()
	f.hub.Close()
	f.mu.Unlock()
}

func (f *eventFeed) pump(ctx context.Context, sub *hub.Subscription[wire.Event]) error {
	for {
		select {
		case e := <-sub.C():
			if e.Type != wire.ContainerEventType {
				continue
			}
			ev, err := docker.DecodeRecord(e)
			if err != nil {
				f.log.Warn("stored container event does not decode", "id", e.ID, "err", err)
				continue
			}
			f.publish(feedItem{ID: e.ID, Event: ev, Frame: e.Value})
		case <-sub.Done():
			return sub.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *eventFeed) publish(it feedItem) {
	f.mu.Lock()
	h := f.hub
	f.mu.Unlock()
	h.Publish(it)
}

// restart ends every current subscriber and starts a fresh hub.
func (f *eventFeed) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hub.Close()
	f.hub = hub.New[feedItem]()
}
