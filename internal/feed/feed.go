// Package feed turns the store's stream of events into the items every
// stream client reads: each event decoded once and its frames encoded at
// most once, whatever the number of clients.
package feed

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// storeQueue is the feed's own queue on the store: it only decodes, so it
// falls behind only under a burst far beyond any engine's event rate.
const storeQueue = 1 << 16

// Item is one stored event as every stream client shares it: decoded
// once, its frames encoded at most once, whatever the number of clients.
// Clients receive a pointer and must not change it.
type Item struct {
	Event     wire.Event
	Container *wire.ContainerEvent // decoded when Event is a container event; its frame is Event.Value

	sseOnce sync.Once
	sse     []byte
	sseErr  error

	wsOnce sync.Once
	ws     []byte
}

// WSFrame is the item's /events/ws message, with its store id, built on
// first use.
func (it *Item) WSFrame() []byte {
	it.wsOnce.Do(func() { it.ws = wire.WithStoreID(it.Event.Value, it.Event.ID) })
	return it.ws
}

// SSEFrame is the item's server-sent-events message, which build encodes
// on first use: every SSE client passes the same build (the HTTP side's),
// so the frame is encoded once whatever the number of clients.
func (it *Item) SSEFrame(build func(wire.Event) ([]byte, error)) ([]byte, error) {
	it.sseOnce.Do(func() { it.sse, it.sseErr = build(it.Event) })
	return it.sse, it.sseErr
}

// Feed fans the store's events out to stream clients. It has two hubs so
// that container-event clients (/events/ws, stats, stacks) are not woken
// by every API event, which only the SSE stream wants.
type Feed struct {
	log        *slog.Logger
	mu         sync.Mutex
	all        *hub.Hub[*Item]
	containers *hub.Hub[*Item]
}

// New returns a feed with no subscribers; Run feeds it.
func New(log *slog.Logger) *Feed {
	return &Feed{log: log, all: hub.New[*Item](), containers: hub.New[*Item]()}
}

// SubscribeAll returns a subscription to every event stored from now on.
func (f *Feed) SubscribeAll(size int) *hub.Subscription[*Item] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.all.Subscribe(size)
}

// SubscribeContainers returns a subscription to the container events
// stored from now on.
func (f *Feed) SubscribeContainers(size int) *hub.Subscription[*Item] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.containers.Subscribe(size)
}

// Clients is the number of container-event subscribers.
func (f *Feed) Clients() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.containers.Len()
}

// Dropped is the number of container-event subscribers cut off as too slow.
func (f *Feed) Dropped() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.containers.Dropped()
}

// DroppedAll is the number of subscribers to every event (the SSE
// streams) cut off as too slow.
func (f *Feed) DroppedAll() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.all.Dropped()
}

// Run feeds from st until ctx ends. Should the feed itself fall behind the
// store, its clients are ended (they resume with since or Last-Event-ID)
// rather than left with a silent gap.
func (f *Feed) Run(ctx context.Context, st store.Store) {
	for ctx.Err() == nil {
		sub := st.Subscribe(storeQueue)
		err := f.pump(ctx, sub)
		sub.Close()
		if errors.Is(err, hub.ErrOverflow) {
			f.log.Error("event feed fell behind the store; ending its clients so they resume", "err", err)
			f.restart()
			continue
		}
		if err != nil && ctx.Err() == nil {
			f.log.Warn("event feed stopped", "err", err)
		}
		break
	}
	f.mu.Lock()
	f.all.Close()
	f.containers.Close()
	f.mu.Unlock()
}

func (f *Feed) pump(ctx context.Context, sub *hub.Subscription[*wire.Event]) error {
	for {
		select {
		case e := <-sub.C():
			it := &Item{Event: *e}
			if e.Type == wire.ContainerEventType {
				ev, err := wire.DecodeContainerEvent(*e)
				if err != nil {
					f.log.Warn("stored container event does not decode", "id", e.ID, "err", err)
				} else {
					it.Container = &ev
				}
			}
			f.Publish(it)
		case <-sub.Done():
			return sub.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Publish hands it to the subscribers of every hub it belongs to. Run
// publishes what the store stores; benchmarks publish directly.
func (f *Feed) Publish(it *Item) {
	f.mu.Lock()
	all, containers := f.all, f.containers
	f.mu.Unlock()
	all.Publish(it)
	if it.Container != nil {
		containers.Publish(it)
	}
}

// restart ends every current subscriber and starts fresh hubs.
func (f *Feed) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all.Close()
	f.containers.Close()
	f.all, f.containers = hub.New[*Item](), hub.New[*Item]()
}

// FollowContainers calls fn with every container event stored from now
// on, until ctx ends. When it falls behind (its queue overflows, or the
// feed restarts), events may have been missed: it calls lost, waits a
// moment so a feed that stays closed is not spun on, and subscribes again.
func (f *Feed) FollowContainers(ctx context.Context, queue int, fn func(wire.ContainerEvent), lost func(error)) {
	for ctx.Err() == nil {
		sub := f.SubscribeContainers(queue)
		err := func() error {
			defer sub.Close()
			for {
				select {
				case it := <-sub.C():
					fn(*it.Container)
				case <-sub.Done():
					return sub.Err()
				case <-ctx.Done():
					return nil
				}
			}
		}()
		if ctx.Err() != nil {
			return
		}
		lost(err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
