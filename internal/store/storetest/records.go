package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Records opens the stack records and alert rules of one place (a bbolt
// file, a set of NATS servers). Each call sees what the calls before it
// stored, as after a restart or through another replica; the backend may
// close what an earlier call opened, and closes the last at the test's end.
type Records struct {
	Stacks     func() store.Stacks
	AlertRules func() store.AlertRules
}

// OpenRecords makes a fresh, empty place for one case.
type OpenRecords func(t *testing.T) Records

// RunRecords runs the contract of the stack records and alert rules as
// subtests, each on its own place.
func RunRecords(t *testing.T, open OpenRecords) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Records)
	}{
		{"stacks lifecycle", stacksCase},
		{"alert rules survive reopening", alertRulesCase},
		{"concurrent creates", concurrentCreates},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

func stacksCase(t *testing.T, open Records) {
	ctx := context.Background()
	recs := open.Stacks()
	a, err := recs.Create(ctx, wire.Stack{Name: "web", Host: "Localhost", Compose: "services: {}"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != 1 || a.Created.IsZero() {
		t.Fatalf("first stack: %+v", a)
	}
	if _, err := recs.Create(ctx, wire.Stack{Name: "web", Host: "Localhost"}); !errors.Is(err, store.ErrStackExists) {
		t.Fatalf("same name, same host: %v, want ErrStackExists", err)
	}
	b, err := recs.Create(ctx, wire.Stack{Name: "web", Host: "other"})
	if err != nil {
		t.Fatalf("same name on another host: %v", err)
	}
	if b.ID != 2 {
		t.Fatalf("second id %d, want 2", b.ID)
	}
	u, err := recs.Update(ctx, a.ID, func(s *wire.Stack) error { s.Status = wire.StackRunning; return nil })
	if err != nil || u.Status != wire.StackRunning || u.Updated.Before(a.Updated) {
		t.Fatalf("update: %+v, %v", u, err)
	}
	if _, err := recs.Update(ctx, a.ID, func(s *wire.Stack) error { s.Name = "x"; return nil }); err == nil {
		t.Fatal("renaming through Update was accepted")
	}
	boom := errors.New("boom")
	if _, err := recs.Update(ctx, a.ID, func(*wire.Stack) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn error: %v", err)
	}
	if err := recs.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := recs.Get(ctx, b.ID); !errors.Is(err, store.ErrStackNotFound) {
		t.Fatalf("deleted stack: %v", err)
	}
	if err := recs.Delete(ctx, b.ID); !errors.Is(err, store.ErrStackNotFound) {
		t.Fatalf("deleting again: %v, want ErrStackNotFound", err)
	}

	// Reopened: records, the name index and the id sequence survive.
	recs = open.Stacks()
	list, err := recs.List(ctx)
	if err != nil || len(list) != 1 || list[0].Status != wire.StackRunning || list[0].Compose != "services: {}" {
		t.Fatalf("after reopening: %+v, %v", list, err)
	}
	if _, err := recs.Create(ctx, wire.Stack{Name: "web", Host: "Localhost"}); !errors.Is(err, store.ErrStackExists) {
		t.Fatalf("same name after reopening: %v, want ErrStackExists", err)
	}
	c, err := recs.Create(ctx, wire.Stack{Name: "web", Host: "other"})
	if err != nil || c.ID < 3 {
		t.Fatalf("name freed by delete, ids never reused: %+v, %v", c, err)
	}
}

func alertRulesCase(t *testing.T, open Records) {
	ctx := context.Background()
	rules := open.AlertRules()
	a, err := rules.Create(ctx, wire.AlertRule{Name: "crash", Kind: wire.AlertKindEvent, When: "exitCode != 0"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != 1 || a.Created.IsZero() {
		t.Fatalf("first rule: %+v", a)
	}
	if _, err := rules.Create(ctx, wire.AlertRule{Name: "crash"}); !errors.Is(err, store.ErrAlertRuleExists) {
		t.Fatalf("same name: %v, want ErrAlertRuleExists", err)
	}
	b, err := rules.Create(ctx, wire.AlertRule{Name: "oom", Kind: wire.AlertKindEvent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Replace(ctx, wire.AlertRule{ID: b.ID, Name: "crash"}); !errors.Is(err, store.ErrAlertRuleExists) {
		t.Fatalf("renaming onto a taken name: %v, want ErrAlertRuleExists", err)
	}
	a.Name, a.When = "crashed", "exitCode == 3"
	if _, err := rules.Replace(ctx, a); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if _, err := rules.Create(ctx, wire.AlertRule{Name: "crash"}); err != nil {
		t.Fatalf("the old name is free again: %v", err)
	}
	if err := rules.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Replace(ctx, b); !errors.Is(err, store.ErrAlertRuleNotFound) {
		t.Fatalf("replacing a deleted rule: %v", err)
	}
	if _, err := rules.Create(ctx, wire.AlertRule{Name: "oom"}); err != nil {
		t.Fatalf("the deleted rule's name is free again: %v", err)
	}

	rules = open.AlertRules()
	list, err := rules.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Name != "crashed" || list[0].When != "exitCode == 3" || list[1].Name != "crash" || list[2].Name != "oom" {
		t.Fatalf("after reopening: %+v", list)
	}
	if !list[0].Created.Equal(a.Created) {
		t.Fatalf("Replace changed Created: %v, was %v", list[0].Created, a.Created)
	}
}

// concurrentCreates: creates racing (on one process, or on replicas) get
// distinct ids, one of them wins a name, and updates racing on one record
// lose none of each other's changes.
func concurrentCreates(t *testing.T, open Records) {
	ctx := context.Background()
	recs := open.Stacks()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = recs.Create(ctx, wire.Stack{Name: fmt.Sprintf("s%d", i), Host: "h"})
		})
		wg.Go(func() {
			_, errs[n+i] = recs.Create(ctx, wire.Stack{Name: "same", Host: "h"})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil && i >= n:
			won++
		case err != nil && (i < n || !errors.Is(err, store.ErrStackExists)):
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates of one name succeeded, want 1", won)
	}
	list, err := recs.List(ctx)
	if err != nil || len(list) != n+1 {
		t.Fatalf("list: %d stacks, %v; want %d", len(list), err, n+1)
	}
	seen := make(map[int64]bool)
	for _, s := range list {
		if seen[s.ID] {
			t.Fatalf("id %d given twice: %+v", s.ID, list)
		}
		seen[s.ID] = true
	}
	id := list[0].ID
	for i := range n {
		wg.Go(func() {
			_, errs[i] = recs.Update(ctx, id, func(s *wire.Stack) error {
				s.Services = append(s.Services, wire.StackService{Name: fmt.Sprint(i)})
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs[:n] {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	got, err := recs.Get(ctx, id)
	if err != nil || len(got.Services) != n {
		t.Fatalf("after %d racing updates: %d services, %v", n, len(got.Services), err)
	}
}
