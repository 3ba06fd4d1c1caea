package docker

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestContainerEventsAreStored runs, on Docker and on Podman, a container
// that exits with a code and one that is stopped, and checks every stored
// event's fields as /events/ws sends them.
func TestContainerEventsAreStored(t *testing.T) {
	forEachEngine(t, testContainerEventsAreStored)
}

func testContainerEventsAreStored(t *testing.T, te testEngine) {
	c, image, host := te.cli, te.image, te.host.Name
	col := newCollector(t)
	e := newEngines(t, Options{Journal: col, Hosts: []HostConfig{te.host}})
	start(t, e)
	h := waitState(t, e, host, wire.HostConnected)
	if h.Version == "" || h.APIVersion == "" {
		t.Errorf("connected host without versions: %+v", h)
	}
	if e.Up() != 1 {
		t.Errorf("Up = %d, want 1", e.Up())
	}

	shortID, shortName := testenv.Run(t, c, testenv.RunOptions{
		Args:   []string{"-lines", "1", "-exit", "3"},
		Labels: map[string]string{"org.crowsnest.test.kind": "short"},
	})
	longID, longName := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "200ms"}})
	testenv.WaitExit(t, c, shortID)
	testenv.Stop(t, c, longID)

	key, value := testenv.Label(t)
	check := func(ev wire.ContainerEvent, id, name, action string) {
		t.Helper()
		if ev.Type != "container" || ev.Status != action || ev.ID != id || ev.Actor.ID != id {
			t.Errorf("%s %s: Type %q Status %q id %q Actor.ID %q", name, action, ev.Type, ev.Status, ev.ID, ev.Actor.ID)
		}
		if ev.Name() != name || ev.Image() != image || ev.From != image {
			t.Errorf("%s %s: name %q image %q from %q, want %s and %s", name, action, ev.Name(), ev.Image(), ev.From, name, image)
		}
		if ev.Actor.Attributes[key] != value {
			t.Errorf("%s %s: run label missing from %v", name, action, ev.Actor.Attributes)
		}
		if ev.Host != host {
			t.Errorf("%s %s: host %q, want %s", name, action, ev.Host, host)
		}
		if ev.TimeNano == 0 || ev.Time != ev.TimeNano/int64(time.Second) {
			t.Errorf("%s %s: time %d timeNano %d disagree", name, action, ev.Time, ev.TimeNano)
		}
	}
	ev := col.wait(t, "short start", is(shortID, "start"))
	check(ev, shortID, shortName, "start")
	if ev.Actor.Attributes["org.crowsnest.test.kind"] != "short" {
		t.Errorf("short start: label missing from %v", ev.Actor.Attributes)
	}
	ev = col.wait(t, "short die", is(shortID, "die"))
	check(ev, shortID, shortName, "die")
	if ev.Actor.Attributes["exitCode"] != "3" {
		t.Errorf("short die: exitCode %q, want 3", ev.Actor.Attributes["exitCode"])
	}
	check(col.wait(t, "long start", is(longID, "start")), longID, longName, "start")
	ev = col.wait(t, "long die", is(longID, "die"))
	if ev.Actor.Attributes["exitCode"] != "143" {
		t.Errorf("long die: exitCode %q, want 143 (SIGTERM)", ev.Actor.Attributes["exitCode"])
	}
	if te.podman == nil {
		// Podman records a stop only when the container outlives the
		// stop's SIGTERM, which the helper does not (see podmanDifferences).
		check(col.wait(t, "long stop", is(longID, "stop")), longID, longName, "stop")
	}

	// Per engine, events are stored in the engine's order.
	evs := col.snapshot()
	for i := 1; i < len(evs); i++ {
		if evs[i].TimeNano < evs[i-1].TimeNano {
			t.Errorf("out of order:%s", describe(evs))
			break
		}
	}
}

func TestDeadEngineBesideLive(t *testing.T) {
	c := testenv.Engine(t)
	col := newCollector(t)
	dead := "unix://" + filepath.Join(t.TempDir(), "no-engine.sock")
	e := newEngines(t, Options{Journal: col, Hosts: []HostConfig{{Name: "live"}, {Name: "dead", URL: dead}}})
	start(t, e)

	waitState(t, e, "live", wire.HostConnected)
	d := waitState(t, e, "dead", wire.HostUnreachable)
	if !strings.Contains(d.Error, "no-engine.sock") {
		t.Errorf("dead host error %q does not say what failed", d.Error)
	}
	id, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "0"}})
	ev := col.wait(t, "start on the live engine", is(id, "start"))
	if ev.Host != "live" {
		t.Errorf("event host %q, want live", ev.Host)
	}
	col.wait(t, "die on the live engine", is(id, "die"))

	hosts := e.Hosts()
	if len(hosts) != 2 || hosts[0].Name != "live" || hosts[1].Name != "dead" {
		t.Fatalf("Hosts = %+v, want live then dead", hosts)
	}
	if hosts[0].State != wire.HostConnected || hosts[1].State != wire.HostUnreachable || hosts[1].URL != dead {
		t.Errorf("Hosts = %+v", hosts)
	}
	if e.Up() != 1 {
		t.Errorf("Up = %d, want 1", e.Up())
	}
	if _, err := e.Client("dead"); err != nil {
		t.Errorf("Client(dead): %v", err)
	}
	if _, err := e.Client("nope"); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("Client(nope) = %v, want ErrUnknownHost", err)
	}
}

func TestCutEngineDeliversEveryEventOnce(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	c := testenv.Engine(t)
	testenv.HelperImage(t) // build before the clock starts
	proxy := testenv.NewProxy(t, c)
	col := newCollector(t)
	e := newEngines(t, Options{Journal: col, Hosts: []HostConfig{{Name: "proxied", URL: proxy.URL()}}})
	start(t, e)
	waitState(t, e, "proxied", wire.HostConnected)

	since, oracle := engineWatch(t, c)
	a, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "1"}})
	testenv.WaitExit(t, c, a)
	col.wait(t, "a die before the cut", is(a, "die"))

	proxy.Cut()
	h := waitState(t, e, "proxied", wire.HostUnreachable)
	if h.Error == "" {
		t.Error("unreachable without an error")
	}
	// Events while the engine is out of reach.
	b, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "2"}})
	long, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "100ms"}})
	testenv.WaitExit(t, c, b)
	testenv.Stop(t, c, long)
	if e.Up() != 0 {
		t.Errorf("Up = %d while cut", e.Up())
	}

	proxy.Restore()
	waitState(t, e, "proxied", wire.HostConnected)
	d, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "0"}})
	testenv.WaitExit(t, c, d)
	col.wait(t, "d die after restore", is(d, "die"))
	until := engineNow(t, c)

	checkEachOnce(t, col, "proxied", oracle(until), since, until)
}

func TestResumeStoresOnlyWhatWasNotStored(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	c := testenv.Engine(t)
	x, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-sleep", "300ms", "-exit", "4"}})
	testenv.WaitExit(t, c, x)
	// The record of an earlier run holds x's create and start, not its die.
	col := newCollector(t)
	for _, ev := range engineEvents(t, c, engineNow(t, c)-int64(time.Minute), engineNow(t, c)) {
		if ev.Actor.ID == x && ev.Action != "die" {
			ev.Host = DefaultHostName
			col.recent = append(col.recent, ev)
		}
	}
	if len(col.recent) != 2 {
		t.Fatalf("engine reported %d earlier events of x, want create and start:%s", len(col.recent), describe(col.recent))
	}
	e := newEngines(t, Options{Journal: col})
	start(t, e)

	// x died after the resume point, while this Engines did not exist yet.
	ev := col.wait(t, "x die from before the start", is(x, "die"))
	if ev.Actor.Attributes["exitCode"] != "4" {
		t.Errorf("x die exitCode %q, want 4", ev.Actor.Attributes["exitCode"])
	}
	y, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "0"}})
	col.wait(t, "y start", is(y, "start"))
	for _, ev := range col.snapshot() {
		if ev.Actor.ID == x && ev.Action != "die" {
			t.Errorf("stored %.12s %s again, though the record had it", ev.Actor.ID, ev.Action)
		}
	}
	if g := col.gapsSnapshot(); len(g) != 0 {
		t.Errorf("gaps %+v on a resume the engine's memory covers", g)
	}
}

func TestStoreFailureRetriesSameEvents(t *testing.T) {
	c := testenv.Engine(t)
	col := newCollector(t)
	attempts := 0
	col.fail = func(batch []wire.ContainerEvent) error {
		if !slices.ContainsFunc(batch, func(ev wire.ContainerEvent) bool {
			return ev.Action == "start" && ev.Actor.Attributes[col.key] == col.value
		}) {
			return nil
		}
		attempts++ // under col.mu
		if attempts <= 2 {
			return errors.New("store unavailable")
		}
		return nil
	}
	e := newEngines(t, Options{Journal: col})
	start(t, e)
	waitState(t, e, DefaultHostName, wire.HostConnected)

	id, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "0"}})
	col.wait(t, "die", is(id, "die"))
	var actions []string
	for _, ev := range col.snapshot() {
		if ev.Actor.ID == id {
			actions = append(actions, ev.Action)
		}
	}
	if strings.Join(actions, ",") != "create,start,die" {
		t.Errorf("actions %v, want create,start,die: the refused start must be retried, once, in order", actions)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if attempts != 3 {
		t.Errorf("start offered %d times, want 3", attempts)
	}
}

func TestRunTwiceIsRefused(t *testing.T) {
	e := newEngines(t, Options{Journal: newCollector(t),
		Hosts: []HostConfig{{Name: "dead", URL: "unix://" + filepath.Join(t.TempDir(), "x.sock")}}})
	start(t, e)
	waitState(t, e, "dead", wire.HostUnreachable)
	if err := e.Run(context.Background()); err == nil {
		t.Error("second Run accepted")
	}
}
