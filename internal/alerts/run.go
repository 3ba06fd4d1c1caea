package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Run evaluates the rules until ctx ends, then stops the deliveries and
// log follows. Only events appended after Run starts are evaluated.
func (a *Alerts) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait() // no follow starts after this
		a.stopFollows()
		a.fwg.Wait()
		a.notify.close()
	}()
	wg.Go(func() { a.every(ctx, tickInterval, a.tick) })
	if w, shared := a.opts.Rules.(store.Watcher); shared {
		wg.Go(func() { a.reloadLoop(ctx) })
		wg.Go(func() {
			if err := w.Watch(ctx, a.reloadSoon); err != nil {
				a.log.Error("alerts: watching the shared rules", "err", err)
			}
		})
	}
	if a.opts.Containers != nil {
		wg.Go(func() { a.every(ctx, a.opts.StatsInterval, a.pollStats()) })
		if a.opts.Logs != nil {
			wg.Go(func() { a.followLoop(ctx) })
			wg.Go(func() { a.recordLogFirings(ctx) })
		}
	}
	return a.events(ctx)
}

// reloadLoop reloads the rules each time the watch says they changed,
// until ctx ends. Changes coming while a reload runs make one more; a
// reload that fails (NATS unavailable) is tried again later.
func (a *Alerts) reloadLoop(ctx context.Context) {
	b := backoff.Backoff{Min: time.Second, Max: 30 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.reload:
		}
		err := a.reloadRules(ctx)
		if err == nil {
			b.Reset()
			continue
		}
		a.log.Warn("alert rules changed but could not be read; retrying", "err", err)
		if !b.Wait(ctx) {
			return
		}
		a.reloadSoon()
	}
}

// every calls fn every d until ctx ends.
func (a *Alerts) every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// tick fires the "for" rules whose time has come.
func (a *Alerts) tick(context.Context) {
	a.mu.Lock()
	fs := a.ev.tick(time.Now())
	a.mu.Unlock()
	a.fire(fs)
}

// events evaluates the container events appended from now on. A
// subscription cut off for being slow is replaced, and the events missed
// meanwhile are read back from the store, so none is skipped.
func (a *Alerts) events(ctx context.Context) error {
	last := a.opts.Events.LastID()
	for {
		sub := a.opts.Events.Subscribe(subscriptionQueue)
		err := a.opts.Events.Scan(ctx, last, 0, store.Filter{Type: wire.ContainerEventType}, func(e wire.Event) error {
			last = e.ID
			a.onStored(&e)
			return nil
		})
		if err != nil {
			sub.Close()
			return fmt.Errorf("alerts: catching up on events: %w", err)
		}
		err = a.consume(ctx, sub, &last)
		sub.Close()
		if !errors.Is(err, hub.ErrOverflow) {
			return err
		}
		a.log.Warn("alerts fell behind the event stream; catching up from the store", "after", last)
	}
}

// consume evaluates sub's events after *last until sub or ctx ends.
func (a *Alerts) consume(ctx context.Context, sub *hub.Subscription[*wire.Event], last *uint64) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Done():
			// Drain what was queued before the end.
			for {
				select {
				case e := <-sub.C():
					a.consumeOne(e, last)
				default:
					return sub.Err()
				}
			}
		case e := <-sub.C():
			a.consumeOne(e, last)
		}
	}
}

func (a *Alerts) consumeOne(e *wire.Event, last *uint64) {
	if e.ID <= *last {
		return
	}
	*last = e.ID
	if e.Type == wire.ContainerEventType {
		a.onStored(e)
	}
}

// onStored evaluates one stored container event.
func (a *Alerts) onStored(e *wire.Event) {
	ev, err := wire.DecodeContainerEvent(*e)
	if err != nil {
		a.log.Error("alerts: decoding a container event", "id", e.ID, "err", err)
		return
	}
	a.mu.Lock()
	fs := a.ev.onEvent(ev, time.Now())
	logs := len(a.ev.log) > 0
	a.mu.Unlock()
	a.fire(fs)
	if logs && ev.Action == "start" {
		a.resync()
	}
}

// pollStats returns the stats poll, which evaluates each container's
// sample once.
func (a *Alerts) pollStats() func(context.Context) {
	seen := make(map[ctrKey]time.Time)
	return func(ctx context.Context) {
		a.mu.Lock()
		none := len(a.ev.stats) == 0
		a.mu.Unlock()
		if none {
			return
		}
		list := a.opts.Containers.Containers(ctx, false, 0)
		live := make(map[ctrKey]time.Time, len(list))
		for _, c := range list {
			if c.Stats == nil {
				continue
			}
			k := ctrKey{c.Host, c.ID}
			live[k] = c.Stats.Timestamp
			if !c.Stats.Timestamp.After(seen[k]) {
				continue
			}
			a.mu.Lock()
			fs := a.ev.onStats(c, *c.Stats, time.Now())
			a.mu.Unlock()
			a.fire(fs)
		}
		clear(seen)
		for k, t := range live {
			seen[k] = t
		}
	}
}
