package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func openStore(t *testing.T) (store.Store, store.AlertRules) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "a.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rules, err := store.NewAlertRules(st)
	if err != nil {
		t.Fatal(err)
	}
	return st, rules
}

func TestBadRuleIsNotStored(t *testing.T) {
	ctx := context.Background()
	st, rules := openStore(t)
	al, err := New(ctx, Options{Rules: rules, Events: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	bad := preset(t, "crash")
	bad.When = "exitCode >"
	if _, err := al.Create(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Create: %v, want ErrInvalid", err)
	}
	if list, _ := al.List(ctx); len(list) != 0 {
		t.Fatalf("a refused rule was stored: %+v", list)
	}
	good, err := al.Create(ctx, preset(t, "crash"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := al.Create(ctx, preset(t, "crash")); !errors.Is(err, ErrExists) {
		t.Fatalf("same name: %v, want ErrExists", err)
	}
	bad.Name = "crash"
	if _, err := al.Update(ctx, good.ID, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Update: %v, want ErrInvalid", err)
	}
	if r, _ := al.Get(ctx, good.ID); r.When != preset(t, "crash").When {
		t.Fatalf("a refused update was stored: %+v", r)
	}
	if _, err := al.Test(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Test of a missing rule: %v", err)
	}
}

// TestRestartDoesNotRefire: events stored before Run are history, not news.
func TestRestartDoesNotRefire(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, rules := openStore(t)
	if _, err := rules.Create(ctx, preset(t, "crash")); err != nil {
		t.Fatal(err)
	}
	die := func(id string) wire.Event {
		ev := ctrEvent("die", time.Now(), "exitCode", "1")
		ev.ID, ev.Actor.ID = id, id
		return ev.Record()
	}
	if _, err := st.Append(ctx, die("old")); err != nil {
		t.Fatal(err)
	}
	al, err := New(ctx, Options{Rules: rules, Events: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- al.Run(ctx) }()
	sub := st.Subscribe(10)
	defer sub.Close()
	time.Sleep(100 * time.Millisecond) // Run has subscribed
	if _, err := st.Append(ctx, die("new")); err != nil {
		t.Fatal(err)
	}
	var alerts []wire.Alert
	timeout := time.After(3 * time.Second)
	for len(alerts) < 1 {
		select {
		case e := <-sub.C():
			if e.Type == wire.AlertEventType {
				var a wire.Alert
				if err := json.Unmarshal(e.Value, &a); err != nil {
					t.Fatal(err)
				}
				alerts = append(alerts, a)
			}
		case <-timeout:
			t.Fatal("no alert for the new crash")
		}
	}
	if alerts[0].Container.ID != "new" {
		t.Fatalf("alert for %q, want only the new crash", alerts[0].Container.ID)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	page, err := st.Query(context.Background(), store.Query{Filter: store.Filter{Type: wire.AlertEventType}})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 {
		t.Fatalf("%d alerts stored, want 1", page.Total)
	}
}
