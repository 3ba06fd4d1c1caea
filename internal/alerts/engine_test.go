package alerts

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestCrashPresetOnRealEngine runs the whole chain on the real engine:
// engine events stored by internal/docker, evaluated by Alerts, recorded
// as "alert" events and POSTed to a local webhook. A container exiting 3
// fires the crash preset once; one stopped with docker stop does not.
func TestCrashPresetOnRealEngine(t *testing.T) {
	cli := testenv.Engine(t)
	key, value := testenv.Label(t)
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(filepath.Join(t.TempDir(), "crowsnest.db"), store.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rules, err := store.NewAlertRules(st)
	if err != nil {
		t.Fatal(err)
	}
	engines, err := docker.New(docker.Options{Hosts: []docker.HostConfig{docker.DefaultHost()}, Logger: log, Journal: docker.StoreJournal(st)})
	if err != nil {
		t.Fatal(err)
	}
	defer engines.Close()

	hooks := make(chan wire.Alert, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a wire.Alert
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &a); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
		}
		hooks <- a
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	al, err := New(ctx, Options{Rules: rules, Events: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	crash := Presets()[0].Rule
	crash.Filters = json.RawMessage(`{"event":["die"],"label":["` + key + "=" + value + `"]}`)
	crash.Notify = []string{srv.URL + "/hook"}
	if _, err := al.Create(ctx, crash); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- engines.Run(ctx) }()
	go func() { done <- al.Run(ctx) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}()
	waitEngine(t, engines)

	// docker stop of a running container: kill, die 143, stop. No alert.
	stopped, _ := testenv.Run(t, cli, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "100ms"}})
	testenv.Stop(t, cli, stopped)
	waitStored(t, st, "action:stop", stopped)

	// A crash: exit 3. One alert, naming the container.
	crashed, name := testenv.Run(t, cli, testenv.RunOptions{Args: []string{"-lines", "1", "-exit", "3"}})
	select {
	case a := <-hooks:
		if a.Container.ID != crashed || a.Container.Name != name || a.Rule != "crash" || a.Event == nil || a.Event.Actor.Attributes["exitCode"] != "3" {
			t.Fatalf("webhook got %+v, want the crash of %s", a, name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no alert for a container exiting 3")
	}
	select {
	case a := <-hooks:
		t.Fatalf("a second alert: %+v (the docker stop of %.12s must not fire)", a, stopped)
	case <-time.After(2 * time.Second):
	}
	page, err := st.Query(ctx, store.Query{Filter: store.Filter{Type: wire.AlertEventType, Tags: []string{"alert:crash", "container:" + name}}})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 {
		t.Fatalf("%d alert events stored for %s, want 1", page.Total, name)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := st.Query(ctx, store.Query{Filter: store.Filter{Type: wire.AlertDeliveryEventType, Tags: []string{"alert:crash", "delivery:ok"}}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d successful deliveries recorded, want 1", p.Total)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEngine waits until the engine's event subscription is up, so no
// event of the test is missed.
func waitEngine(t *testing.T, e *docker.Engines) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for e.Up() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("engine not connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStored waits until a container event with tag of container id is stored.
func waitStored(t *testing.T, st store.Store, tag, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		found := false
		err := st.Scan(context.Background(), 0, 0, store.Filter{Type: wire.ContainerEventType, Tags: []string{tag}}, func(e wire.Event) error {
			ev, err := wire.DecodeContainerEvent(e)
			if err == nil && ev.Actor.ID == id {
				found = true
				return store.ErrStop
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event stored for %.12s", tag, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
