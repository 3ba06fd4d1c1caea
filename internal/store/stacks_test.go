package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestStacksLifecycle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := NewStacks(st)
	if err != nil {
		t.Fatal(err)
	}
	a, err := recs.Create(ctx, wire.Stack{Name: "web", Host: "Localhost", Compose: "services: {}"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != 1 || a.Created.IsZero() {
		t.Fatalf("first stack: %+v", a)
	}
	if _, err := recs.Create(ctx, wire.Stack{Name: "web", Host: "Localhost"}); !errors.Is(err, ErrStackExists) {
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
	if err != nil || u.Status != wire.StackRunning || !u.Updated.After(a.Updated) && !u.Updated.Equal(a.Updated) {
		t.Fatalf("update: %+v, %v", u, err)
	}
	if _, err := recs.Update(ctx, a.ID, func(s *wire.Stack) error { s.Name = "x"; return nil }); err == nil {
		t.Fatal("renaming through Update was accepted")
	}
	boom := errors.New("boom")
	if _, err := recs.Update(ctx, a.ID, func(s *wire.Stack) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn error: %v", err)
	}
	if err := recs.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := recs.Get(ctx, b.ID); !errors.Is(err, ErrStackNotFound) {
		t.Fatalf("deleted stack: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: records, the name index and the id sequence survive.
	st, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err = NewStacks(st)
	if err != nil {
		t.Fatal(err)
	}
	list, err := recs.List(ctx)
	if err != nil || len(list) != 1 || list[0].Status != wire.StackRunning || list[0].Compose != "services: {}" {
		t.Fatalf("after reopen: %+v, %v", list, err)
	}
	c, err := recs.Create(ctx, wire.Stack{Name: "web", Host: "other"})
	if err != nil || c.ID != 3 {
		t.Fatalf("name freed by delete, ids never reused: %+v, %v", c, err)
	}
}
