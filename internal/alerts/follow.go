package alerts

import (
	"context"
	"errors"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// followLoop keeps a log follow on exactly the running containers some
// enabled log rule selects: checked on every rule change and container
// start, and every SyncInterval for anything missed.
func (a *Alerts) followLoop(ctx context.Context) {
	t := time.NewTicker(a.opts.SyncInterval)
	defer t.Stop()
	for {
		a.syncFollows(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.sync:
		case <-t.C:
		}
	}
}

// syncFollows starts and stops follows to match the log rules.
func (a *Alerts) syncFollows(ctx context.Context) {
	a.mu.Lock()
	none := len(a.ev.log) == 0
	a.mu.Unlock()
	var want []wire.ContainerSummary
	if !none {
		for _, c := range a.opts.Containers.Containers(ctx, false, 0) {
			a.mu.Lock()
			sel := a.ev.selectsLogs(c)
			a.mu.Unlock()
			if sel {
				want = append(want, c)
			}
		}
	}
	wanted := make(map[ctrKey]bool, len(want))
	a.fmu.Lock()
	defer a.fmu.Unlock()
	for _, c := range want {
		k := ctrKey{c.Host, c.ID}
		wanted[k] = true
		if a.follows[k] == nil {
			a.startFollow(ctx, k, c)
		}
	}
	for k, f := range a.follows {
		if !wanted[k] {
			f.cancel()
			delete(a.follows, k)
		}
	}
}

// startFollow follows c's lines into the log rules; a.fmu is held.
func (a *Alerts) startFollow(ctx context.Context, k ctrKey, c wire.ContainerSummary) {
	fctx, cancel := context.WithCancel(ctx)
	f := &follow{cancel: cancel}
	a.follows[k] = f
	a.fwg.Go(func() {
		defer cancel()
		err := a.opts.Logs.Follow(fctx, c, func(l wire.LogLine) {
			a.mu.Lock()
			fs := a.ev.onLog(c, l, time.Now())
			a.mu.Unlock()
			if len(fs) > 0 {
				a.fireLater(fs)
			}
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("alerts: following logs ended", "container", c.Name, "host", c.Host, "err", err)
		}
		a.fmu.Lock()
		if a.follows[k] == f {
			delete(a.follows, k)
		}
		a.fmu.Unlock()
	})
}

// stopFollows ends every follow.
func (a *Alerts) stopFollows() {
	a.fmu.Lock()
	defer a.fmu.Unlock()
	for k, f := range a.follows {
		f.cancel()
		delete(a.follows, k)
	}
}

// logFiringsQueue bounds the log rules' firings waiting to be recorded.
// Cooldowns keep real rules far below it; a rule without one matching a
// flood of lines is what fills it.
const logFiringsQueue = 1024

// fireLater queues what log rules fired for recordLogFirings, dropping it
// with a warning when the queue is full rather than holding up the
// container's log stream.
func (a *Alerts) fireLater(fs []firing) {
	select {
	case a.logFirings <- fs:
	default:
		a.log.Warn("alerts: log rules fire faster than alerts are recorded; alerts dropped",
			"rule", fs[0].alert.Rule, "container", fs[0].alert.Container.Name, "count", len(fs))
	}
}

// recordLogFirings records and delivers the log rules' firings until ctx
// ends.
func (a *Alerts) recordLogFirings(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case fs := <-a.logFirings:
			a.fire(fs)
		}
	}
}
