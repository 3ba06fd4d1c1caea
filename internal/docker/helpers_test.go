package docker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// collector is a Journal that keeps the events of this test run's
// containers; other packages' containers on the same engine are ignored.
type collector struct {
	key, value string
	fail       func(batch []wire.ContainerEvent) error // optional: refuse a batch
	recent     []wire.ContainerEvent                   // what Recent answers
	gate       chan struct{}                           // while set, Store waits for it to close

	mu      sync.Mutex
	events  []wire.ContainerEvent
	gaps    []wire.Gap
	starts  map[string]int64 // what Start stored
	changed chan struct{}
}

func newCollector(t *testing.T) *collector {
	key, value := testenv.Label(t)
	return &collector{key: key, value: value, changed: make(chan struct{})}
}

func (c *collector) Store(ctx context.Context, batch []wire.ContainerEvent) error {
	c.mu.Lock()
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		if err := c.fail(batch); err != nil {
			return err
		}
	}
	for _, ev := range batch {
		if ev.Actor.Attributes[c.key] == c.value {
			c.events = append(c.events, ev)
		}
	}
	c.notify()
	return nil
}

func (c *collector) Recent(context.Context, string, time.Duration) ([]wire.ContainerEvent, error) {
	return c.recent, nil
}

func (c *collector) Gap(_ context.Context, g wire.Gap) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gaps = append(c.gaps, g)
	c.notify()
	return nil
}

// Start keeps each host's first start, as the store does.
func (c *collector) Start(_ context.Context, host string, now int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.starts == nil {
		c.starts = map[string]int64{}
	}
	if start, ok := c.starts[host]; ok {
		return start, nil
	}
	c.starts[host] = now
	return now, nil
}

func (c *collector) LastActions(_ context.Context, host string, _ int) (map[string]wire.ContainerEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]wire.ContainerEvent{}
	for _, ev := range c.events {
		if ev.Host == host {
			out[ev.Actor.ID] = ev
		}
	}
	return out, nil
}

// notify wakes the waiters; called with c.mu held.
func (c *collector) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// block makes Store wait until the returned function is called.
func (c *collector) block() (unblock func()) {
	gate := make(chan struct{})
	c.mu.Lock()
	c.gate = gate
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.gate = nil
		c.mu.Unlock()
		close(gate)
	}
}

// waitGap returns the first gap stored, failing the test after a while.
func (c *collector) waitGap(t *testing.T) wire.Gap {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		c.mu.Lock()
		gaps, changed := slices.Clone(c.gaps), c.changed
		c.mu.Unlock()
		if len(gaps) > 0 {
			return gaps[0]
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no gap stored; events:%s", describe(c.snapshot()))
		}
	}
}

// gapsSnapshot returns the gaps stored so far.
func (c *collector) gapsSnapshot() []wire.Gap {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.gaps)
}

func (c *collector) snapshot() []wire.ContainerEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// wait returns the first kept event matching ok, failing the test after
// timeout.
func (c *collector) wait(t *testing.T, what string, ok func(wire.ContainerEvent) bool) wire.ContainerEvent {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		for _, ev := range c.events {
			if ok(ev) {
				c.mu.Unlock()
				return ev
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %s", what, describe(c.snapshot()))
		}
	}
}

// is matches an event by container ID and action.
func is(id, action string) func(wire.ContainerEvent) bool {
	return func(ev wire.ContainerEvent) bool { return ev.Actor.ID == id && ev.Action == action }
}

func describe(evs []wire.ContainerEvent) string {
	s := ""
	for _, ev := range evs {
		s += fmt.Sprintf("\n  %d %.12s %s %s", ev.TimeNano, ev.Actor.ID, ev.Action, ev.Host)
	}
	return s
}

// start runs e until the test ends.
func start(t *testing.T, e *Engines) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// newEngines builds Engines with quick backoff and a test logger.
func newEngines(t *testing.T, opts Options) *Engines {
	t.Helper()
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 50*time.Millisecond, 400*time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// testWriter sends log output to t.Log so it shows only for failures.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

var _ io.Writer = testWriter{}

// waitState waits until host reaches state and returns it.
func waitState(t *testing.T, e *Engines, host, state string) wire.Host {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, h := range e.Hosts() {
			if h.Name == host && h.State == state {
				return h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s never became %s: %+v", host, state, e.Hosts())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// engineNow is the engine's clock, the one event times are taken from.
func engineNow(t *testing.T, c *client.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now, err := time.Parse(time.RFC3339Nano, info.Info.SystemTime)
	if err != nil {
		t.Fatal(err)
	}
	return now.UnixNano()
}

// engineWatch records, live, the engine's container events of this test's
// label from now on: an oracle that, unlike engineEvents, does not depend
// on the engine's 256-event memory, which other tests sharing the engine
// can roll over during a long test. It returns the engine time it started
// at and a function that stops it and returns the events up to until.
func engineWatch(t *testing.T, c *client.Client) (since int64, upTo func(until int64) []wire.ContainerEvent) {
	t.Helper()
	key, value := testenv.Label(t)
	since = engineNow(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	res := c.Events(ctx, client.EventsListOptions{
		Since:   sinceParam(since),
		Filters: make(client.Filters).Add("type", "container").Add("label", key+"="+value),
	})
	var mu sync.Mutex
	var got []wire.ContainerEvent
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case m := <-res.Messages:
				mu.Lock()
				got = append(got, convert("", m))
				mu.Unlock()
			case <-res.Err:
				return
			}
		}
	}()
	return since, func(until int64) []wire.ContainerEvent {
		t.Helper()
		// The engine sends an event as it happens; a second is ample for
		// the last ones before until to arrive.
		time.Sleep(time.Second)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		var out []wire.ContainerEvent
		for _, ev := range got {
			if ev.TimeNano <= until {
				out = append(out, ev)
			}
		}
		return out
	}
}

// engineEvents is what the engine itself reports for this run's containers
// between since and until (both timeNano, inclusive).
func engineEvents(t *testing.T, c *client.Client, since, until int64) []wire.ContainerEvent {
	t.Helper()
	key, value := testenv.Label(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := c.Events(ctx, client.EventsListOptions{
		Since:   sinceParam(since),
		Until:   sinceParam(until),
		Filters: make(client.Filters).Add("type", "container").Add("label", key+"="+value),
	})
	var out []wire.ContainerEvent
	for {
		select {
		case m := <-res.Messages:
			out = append(out, convert("", m))
		case err := <-res.Err:
			if err != io.EOF {
				t.Fatalf("engine events: %v", err)
			}
			return out
		}
	}
}
