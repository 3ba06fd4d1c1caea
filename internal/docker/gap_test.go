package docker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// reconciledAs waits for the reconciled event of container id with action.
func reconciledAs(t *testing.T, col *collector, id, action string) wire.ContainerEvent {
	t.Helper()
	return col.wait(t, "reconciled "+action+" of "+id[:12], func(ev wire.ContainerEvent) bool {
		return ev.Actor.ID == id && ev.Action == action && ev.Actor.Attributes[wire.ReconciledAttribute] == "true"
	})
}

func TestOutageLongerThanEngineMemoryIsAGapAndReconciled(t *testing.T) {
	c := testenv.Engine(t)
	testenv.HelperImage(t)
	proxy := testenv.NewProxy(t, c)
	col := newCollector(t)
	e := newEngines(t, Options{Journal: col, Hosts: []HostConfig{{Name: "proxied", URL: proxy.URL()}}})
	start(t, e)
	waitState(t, e, "proxied", wire.HostConnected)
	forever := testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "1s"}}
	removed, _ := testenv.Run(t, c, forever)
	exited, _ := testenv.Run(t, c, forever)
	col.wait(t, "start of the container to remove", is(removed, "start"))
	col.wait(t, "start of the container to stop", is(exited, "start"))

	proxy.Cut()
	waitState(t, e, "proxied", wire.HostUnreachable)
	cutAt := time.Now()
	testenv.Stop(t, c, exited)
	if _, err := c.ContainerRemove(context.Background(), removed, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	born, _ := testenv.Run(t, c, forever)
	testenv.FloodEngineMemory(t, c)
	proxy.Restore()

	g := col.waitGap(t)
	if g.Reason != wire.GapOutage || g.Host != "proxied" {
		t.Errorf("gap %+v, want reason %s on proxied", g, wire.GapOutage)
	}
	if g.From.After(cutAt) || !g.To.After(cutAt) || g.Message == "" {
		t.Errorf("gap window %v – %v does not span the cut at %v, or has no message", g.From, g.To, cutAt)
	}
	if at := reconciledAs(t, col, removed, "die").Actor.Attributes[wire.ReconciledGapAttribute]; at != g.From.Format(time.RFC3339Nano) {
		t.Errorf("reconciled die names the gap from %q, want %v", at, g.From)
	}
	reconciledAs(t, col, removed, "destroy")
	if code := reconciledAs(t, col, exited, "die").Actor.Attributes["exitCode"]; code != "143" {
		t.Errorf("reconciled die exitCode %q, want 143 (SIGTERM)", code)
	}
	reconciledAs(t, col, born, "create")
	reconciledAs(t, col, born, "start")

	// Live events flow again after the reconciliation.
	testenv.Stop(t, c, born)
	col.wait(t, "live die after the gap", func(ev wire.ContainerEvent) bool {
		return ev.Actor.ID == born && ev.Action == "die" && ev.Actor.Attributes[wire.ReconciledAttribute] == ""
	})
}

func TestOverflowBeyondEngineMemoryIsAGapAndReconciled(t *testing.T) {
	c := testenv.Engine(t)
	testenv.HelperImage(t)
	col := newCollector(t)
	e := newEngines(t, Options{Journal: col, QueueSize: 1})
	start(t, e)
	waitState(t, e, DefaultHostName, wire.HostConnected)
	warm, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "0"}})
	col.wait(t, "a first event stored", is(warm, "die"))

	// The store stalls: the writer holds one event, the queue one more, and
	// the third overflows it. By the time the store answers, the engine has
	// forgotten the rest.
	unblock := col.block()
	stuck, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "5"}})
	testenv.WaitExit(t, c, stuck)
	testenv.FloodEngineMemory(t, c)
	unblock()

	g := col.waitGap(t)
	if g.Reason != wire.GapOverflow || g.Host != DefaultHostName {
		t.Errorf("gap %+v, want reason %s on %s", g, wire.GapOverflow, DefaultHostName)
	}
	if code := reconciledAs(t, col, stuck, "die").Actor.Attributes["exitCode"]; code != "5" {
		t.Errorf("reconciled die exitCode %q, want 5", code)
	}
}

func TestEngineRestartIsAGapAndReconciled(t *testing.T) {
	d := testenv.PrivateEngine(t)
	c := d.Client()
	proxy := testenv.NewProxy(t, c)
	col := newCollector(t)
	e := newEngines(t, Options{Journal: col, Hosts: []HostConfig{{Name: "private", URL: proxy.URL()}}})
	start(t, e)
	waitState(t, e, "private", wire.HostConnected)
	created := testenv.RunOptions{NoStart: true}
	kept, _ := testenv.Run(t, c, created)
	removed, _ := testenv.Run(t, c, created)
	col.wait(t, "create of the container to keep", is(kept, "create"))
	col.wait(t, "create of the container to remove", is(removed, "create"))

	// While crowsnest is cut off, the engine changes and then restarts,
	// forgetting the events of those changes.
	proxy.Cut()
	waitState(t, e, "private", wire.HostUnreachable)
	if _, err := c.ContainerRemove(context.Background(), removed, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	born, _ := testenv.Run(t, c, created)
	d.Restart()
	proxy.Restore()

	g := col.waitGap(t)
	if g.Reason != wire.GapEngineRestart || g.Host != "private" {
		t.Errorf("gap %+v, want reason %s on private", g, wire.GapEngineRestart)
	}
	reconciledAs(t, col, removed, "destroy")
	reconciledAs(t, col, born, "create")
	for _, ev := range col.snapshot() {
		if ev.Actor.ID == kept && ev.Actor.Attributes[wire.ReconciledAttribute] != "" {
			t.Errorf("the unchanged container got a reconciled %s", ev.Action)
		}
	}
}

// TestRecordStartWithoutEventsIsAGap: a first crowsnest subscribes to a
// brand-new record but stores none of the engine's events (its disk is
// full); the engine restarts, forgetting them, before a second crowsnest
// on the same record subscribes. The record's stored start stands for the
// last stored event, so the second one records a gap from it and
// reconciles, rather than starting a record that silently misses them.
func TestRecordStartWithoutEventsIsAGap(t *testing.T) {
	d := testenv.PrivateEngine(t)
	c := d.Client()
	col := newCollector(t)
	col.fail = func([]wire.ContainerEvent) error { return errors.New("no space left on device") }
	hosts := []HostConfig{{Name: "private", URL: d.URL()}}
	first := newEngines(t, Options{Journal: col, Hosts: hosts})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	waitState(t, first, "private", wire.HostConnected)
	born, _ := testenv.Run(t, c, testenv.RunOptions{NoStart: true})
	time.Sleep(500 * time.Millisecond) // the first one is offered the create, and fails to store it
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	d.Restart()

	col.mu.Lock()
	col.fail = nil
	col.mu.Unlock()
	second := newEngines(t, Options{Journal: col, Hosts: hosts})
	start(t, second)
	g := col.waitGap(t)
	if g.Reason != wire.GapEngineRestart || g.Host != "private" {
		t.Errorf("gap %+v, want reason %s on private", g, wire.GapEngineRestart)
	}
	reconciledAs(t, col, born, "create")
}
