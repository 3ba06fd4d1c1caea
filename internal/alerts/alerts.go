package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/lease"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Errors of the rule API besides ErrInvalid (400).
var (
	// ErrNotFound: no rule has that id (404).
	ErrNotFound = store.ErrAlertRuleNotFound
	// ErrExists: another rule has that name (409).
	ErrExists = store.ErrAlertRuleExists
)

// EventLog is the part of the event store alerts need: container events
// as they are appended, and a place to record firings. store.Store has it.
type EventLog interface {
	Append(ctx context.Context, events ...wire.Event) ([]wire.Event, error)
	Subscribe(size int) *hub.Subscription[*wire.Event]
	Scan(ctx context.Context, after, upTo uint64, f store.Filter, fn func(wire.Event) error) error
	LastID() uint64
}

// Containers lists the running containers (all false) with their labels
// and latest stats sample; *stats.Collector has it.
type Containers interface {
	Containers(ctx context.Context, all bool, wait time.Duration) []wire.ContainerSummary
}

// LogFollower follows one container's output for the log rules.
type LogFollower interface {
	// Follow calls fn with each line c writes from now on (no backlog, so
	// a restart never fires old lines again) until ctx ends or the
	// container stops. fn must return quickly.
	Follow(ctx context.Context, c wire.ContainerSummary, fn func(wire.LogLine)) error
}

// Defaults of Options.
const (
	DefaultStatsInterval = 10 * time.Second
	DefaultSyncInterval  = 30 * time.Second
	tickInterval         = time.Second
	subscriptionQueue    = 1024
	recordTimeout        = 10 * time.Second
)

// Options configure Alerts. Rules and Events are required; without
// Containers, log and stats rules are kept but not evaluated, and without
// Logs, log rules are not.
type Options struct {
	Rules      store.AlertRules
	Events     EventLog
	Containers Containers
	Logs       LogFollower
	Delivery   DeliveryOptions
	// Leases let one of the replicas sharing a store send each alert;
	// nil for a single crowsnest.
	Leases *lease.Leases
	// StopWindow: see DefaultStopWindow.
	StopWindow time.Duration
	// StatsInterval is how often stats rules read the latest samples.
	StatsInterval time.Duration
	// SyncInterval is how often the followed containers are checked
	// against the log rules, besides on every start event and rule change.
	SyncInterval time.Duration
	// Logger; nil means slog.Default.
	Logger *slog.Logger
}

// Alerts is the rule API and its evaluation. Create it with New, then Run.
type Alerts struct {
	opts   Options
	log    *slog.Logger
	notify *notifier
	sync   chan struct{} // a rule changed or a container started: re-check follows

	mu    sync.Mutex
	rules map[int64]*Rule // every stored rule that compiles, enabled or not
	ev    *evaluator

	fmu     sync.Mutex
	follows map[ctrKey]*follow
	fwg     sync.WaitGroup // the follows' goroutines
	// logFirings carries what log rules fire from the follows, which
	// evaluate on the log stream's goroutine and must not wait for the
	// store, to recordLogFirings.
	logFirings chan []firing
}

// follow is one container's log subscription for the log rules.
type follow struct{ cancel context.CancelFunc }

// New loads and compiles the stored rules. A stored rule that no longer
// compiles is logged and left out of evaluation (it stays listed).
func New(ctx context.Context, opts Options) (*Alerts, error) {
	if opts.Rules == nil || opts.Events == nil {
		return nil, errors.New("alerts: Rules and Events are required")
	}
	if opts.StopWindow <= 0 {
		opts.StopWindow = DefaultStopWindow
	}
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = DefaultStatsInterval
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &Alerts{
		opts: opts, log: opts.Logger, sync: make(chan struct{}, 1),
		rules: make(map[int64]*Rule), ev: newEvaluator(opts.StopWindow), follows: make(map[ctrKey]*follow),
		logFirings: make(chan []firing, logFiringsQueue),
	}
	a.notify = newNotifier(opts.Delivery, opts.Logger, a.recordDelivery)
	stored, err := opts.Rules.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	for _, r := range stored {
		c, err := Compile(r)
		if err != nil {
			a.log.Error("alert rule left out", "rule", r.Name, "id", r.ID, "err", err)
			continue
		}
		a.rules[r.ID] = c
	}
	a.install()
	return a, nil
}

// install hands the current rules to the evaluator; a.mu must not be held.
func (a *Alerts) install() {
	a.mu.Lock()
	rules := make([]*Rule, 0, len(a.rules))
	for _, r := range a.rules {
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(x, y *Rule) int { return int(x.ID - y.ID) })
	a.ev.setRules(rules)
	a.mu.Unlock()
	a.resync()
}

// resync asks Run to check the followed containers again.
func (a *Alerts) resync() {
	select {
	case a.sync <- struct{}{}:
	default:
	}
}

// List returns every rule, by id.
func (a *Alerts) List(ctx context.Context) ([]wire.AlertRule, error) {
	return a.opts.Rules.List(ctx)
}

// Get returns one rule, or ErrNotFound.
func (a *Alerts) Get(ctx context.Context, id int64) (wire.AlertRule, error) {
	return a.opts.Rules.Get(ctx, id)
}

// Create validates r (ErrInvalid), stores it under a new id (ErrExists
// when its name is taken) and starts evaluating it.
func (a *Alerts) Create(ctx context.Context, r wire.AlertRule) (wire.AlertRule, error) {
	r.ID, r.Created, r.Updated = 0, time.Time{}, time.Time{}
	c, err := Compile(r)
	if err != nil {
		return wire.AlertRule{}, err
	}
	stored, err := a.opts.Rules.Create(ctx, r)
	if err != nil {
		return wire.AlertRule{}, fmt.Errorf("alerts: %w", err)
	}
	c.AlertRule = stored
	a.mu.Lock()
	a.rules[stored.ID] = c
	a.mu.Unlock()
	a.install()
	return stored, nil
}

// Update replaces rule id with r (ErrInvalid, ErrNotFound, ErrExists).
// The rule's windows and cooldowns start afresh.
func (a *Alerts) Update(ctx context.Context, id int64, r wire.AlertRule) (wire.AlertRule, error) {
	r.ID = id
	c, err := Compile(r)
	if err != nil {
		return wire.AlertRule{}, err
	}
	stored, err := a.opts.Rules.Replace(ctx, r)
	if err != nil {
		return wire.AlertRule{}, fmt.Errorf("alerts: %w", err)
	}
	c.AlertRule = stored
	a.mu.Lock()
	a.rules[id] = c
	a.mu.Unlock()
	a.install()
	return stored, nil
}

// Delete removes rule id (ErrNotFound) and stops evaluating it.
func (a *Alerts) Delete(ctx context.Context, id int64) error {
	if err := a.opts.Rules.Delete(ctx, id); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	a.mu.Lock()
	delete(a.rules, id)
	a.mu.Unlock()
	a.install()
	return nil
}

// Test sends a test alert to every target of rule id at once, one attempt
// each within the delivery timeout, and returns each outcome. Nothing is
// stored.
func (a *Alerts) Test(ctx context.Context, id int64) ([]wire.AlertDelivery, error) {
	a.mu.Lock()
	r := a.rules[id]
	a.mu.Unlock()
	if r == nil {
		if _, err := a.opts.Rules.Get(ctx, id); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		return nil, fmt.Errorf("%w: the stored rule no longer compiles", ErrInvalid)
	}
	now := time.Now().UTC()
	alert := wire.Alert{Rule: r.Name, RuleID: r.ID, Kind: r.Kind, Time: now, Test: true,
		Message: fmt.Sprintf("%s: test notification from crowsnest", r.Name)}
	out := make([]wire.AlertDelivery, len(r.targets))
	var wg sync.WaitGroup
	for i, t := range r.targets {
		wg.Go(func() {
			actx, cancel := context.WithTimeout(ctx, a.notify.opts.Timeout)
			defer cancel()
			d := wire.AlertDelivery{Rule: r.Name, Target: t.String(), Attempts: 1, OK: true}
			if err := t.send(actx, alert); err != nil {
				d.OK, d.Error = false, err.Error()
			}
			d.Time = time.Now().UTC()
			out[i] = d
		})
	}
	wg.Wait()
	return out, nil
}

// fire records the firings as "alert" events and queues their deliveries.
// Delivery goes ahead when recording fails: the alert matters more than
// its record.
func (a *Alerts) fire(fs []firing) {
	fs = a.ours(fs)
	if len(fs) == 0 {
		return
	}
	events := make([]wire.Event, len(fs))
	for i, f := range fs {
		events[i] = alertEvent(f.alert)
	}
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	stored, err := a.opts.Events.Append(ctx, events...)
	if err != nil {
		a.log.Error("recording alerts", "count", len(fs), "err", err)
	}
	for i, f := range fs {
		var id uint64
		if err == nil {
			id = stored[i].ID
		}
		a.log.Info("alert", "rule", f.alert.Rule, "container", f.alert.Container.Name, "host", f.alert.Host, "message", f.alert.Message)
		a.notify.enqueue(f.rule.targets, f.alert, id)
	}
}

// ours keeps the firings this replica sends. Replicas sharing one store
// evaluate the same events, so each would fire; a lease per rule and
// container (see lease.Claim) lets the first to claim it record and send
// that rule's alerts for the container while it keeps doing so, and
// another take over once it stops. When the lease cannot be asked, the
// alert goes out: sent twice beats never sent.
func (a *Alerts) ours(fs []firing) []firing {
	if a.opts.Leases == nil {
		return fs
	}
	out := fs[:0:0]
	for _, f := range fs {
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		mine, err := a.opts.Leases.Claim(ctx, "alert/"+f.alert.Rule+"/"+f.alert.Host+"/"+f.alert.Container.ID)
		cancel()
		if err != nil {
			a.log.Warn("cannot tell whether another replica sends this alert; sending it", "rule", f.alert.Rule, "err", err)
		}
		if mine || err != nil {
			out = append(out, f)
		}
	}
	return out
}

// alertEvent is the stored form of an alert.
func alertEvent(al wire.Alert) wire.Event {
	value, err := json.Marshal(al)
	if err != nil {
		// Strings, numbers, times and string maps cannot fail to encode.
		panic(fmt.Sprintf("alerts: encoding an alert: %v", err))
	}
	return wire.Event{Type: wire.AlertEventType, Tags: tags(al.Rule, al.Container.Name, al.Host), Timestamp: al.Time, Value: value}
}

// tags are an alert record's tags; empty values make no tag.
func tags(rule, container, host string) []string {
	out := []string{"alert:" + rule}
	if container != "" {
		out = append(out, "container:"+container)
	}
	if host != "" {
		out = append(out, "host:"+host)
	}
	return out
}

// recordDelivery stores a delivery's outcome as an "alert-delivery" event.
func (a *Alerts) recordDelivery(d wire.AlertDelivery) {
	if !d.OK {
		a.log.Error("alert not delivered", "rule", d.Rule, "target", d.Target, "attempts", d.Attempts, "err", d.Error)
	}
	value, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("alerts: encoding a delivery: %v", err))
	}
	outcome := "delivery:ok"
	if !d.OK {
		outcome = "delivery:failed"
	}
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	_, err = a.opts.Events.Append(ctx, wire.Event{Type: wire.AlertDeliveryEventType, Tags: []string{"alert:" + d.Rule, outcome}, Timestamp: d.Time, Value: value})
	if err != nil {
		a.log.Error("recording an alert delivery", "rule", d.Rule, "target", d.Target, "err", err)
	}
}
