package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Defaults of DeliveryOptions.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultAttempts   = 4
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 30 * time.Second
	DefaultQueue      = 100
)

// DeliveryOptions tune how alerts reach their targets; zero values take
// the defaults.
type DeliveryOptions struct {
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Attempts is how many times a delivery is tried before it is given up.
	Attempts int
	// MinBackoff and MaxBackoff bound the growing wait between attempts.
	MinBackoff, MaxBackoff time.Duration
	// Queue is how many alerts may wait for one target; more are given up
	// at once, recorded as failed.
	Queue int
}

func (o DeliveryOptions) withDefaults() DeliveryOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Attempts < 1 {
		o.Attempts = DefaultAttempts
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.Queue < 1 {
		o.Queue = DefaultQueue
	}
	return o
}

// delivery is one alert on its way to one target.
type delivery struct {
	alert   wire.Alert
	alertID uint64 // the stored "alert" event
}

// notifier delivers alerts with one queue and one worker per target, so a
// slow or dead target only ever delays its own alerts: never another
// target's, never the evaluation feeding it.
type notifier struct {
	opts   DeliveryOptions
	report func(wire.AlertDelivery) // called once per delivery with its outcome
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	queues map[string]chan delivery // by target key
}

func newNotifier(opts DeliveryOptions, log *slog.Logger, report func(wire.AlertDelivery)) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &notifier{opts: opts.withDefaults(), report: report, log: log, ctx: ctx, cancel: cancel, queues: make(map[string]chan delivery)}
}

// enqueue hands a to every target without waiting for any of them.
func (n *notifier) enqueue(targets []target, a wire.Alert, alertID uint64) {
	for _, t := range targets {
		q := n.queue(t)
		select {
		case q <- delivery{alert: a, alertID: alertID}:
		default:
			n.report(wire.AlertDelivery{AlertID: alertID, Rule: a.Rule, Target: t.String(),
				Error: fmt.Sprintf("queue full: %d alerts already wait for this target", n.opts.Queue), Time: time.Now().UTC()})
		}
	}
}

// queue returns the target's queue, starting its worker on first use.
func (n *notifier) queue(t target) chan delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	q, ok := n.queues[t.key()]
	if !ok {
		q = make(chan delivery, n.opts.Queue)
		n.queues[t.key()] = q
		n.wg.Go(func() { n.work(t, q) })
	}
	return q
}

// work delivers the target's alerts one after the other.
func (n *notifier) work(t target, q chan delivery) {
	for {
		select {
		case <-n.ctx.Done():
			return
		case d := <-q:
			out := n.deliver(n.ctx, t, d.alert)
			out.AlertID = d.alertID
			n.report(out)
		}
	}
}

// deliver tries a until it succeeds, the attempts run out or ctx ends.
func (n *notifier) deliver(ctx context.Context, t target, a wire.Alert) wire.AlertDelivery {
	out := wire.AlertDelivery{Rule: a.Rule, Target: t.String()}
	b := backoff.Backoff{Min: n.opts.MinBackoff, Max: n.opts.MaxBackoff}
	var err error
	for out.Attempts < n.opts.Attempts {
		if out.Attempts > 0 && !b.Wait(ctx) {
			break
		}
		out.Attempts++
		actx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
		err = t.send(actx, a)
		cancel()
		if err == nil {
			out.OK, out.Time = true, time.Now().UTC()
			return out
		}
		n.log.Warn("alert delivery failed", "rule", a.Rule, "target", t.String(), "attempt", out.Attempts, "err", err)
	}
	if err == nil {
		err = ctx.Err()
	}
	out.Error, out.Time = err.Error(), time.Now().UTC()
	return out
}

// close stops the workers; alerts still queued are dropped.
func (n *notifier) close() {
	n.cancel()
	n.wg.Wait()
}
