package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestAlertRulesSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	st, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := NewAlertRules(st)
	if err != nil {
		t.Fatal(err)
	}
	a, err := rules.Create(ctx, wire.AlertRule{Name: "crash", Kind: wire.AlertKindEvent, When: "exitCode != 0"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != 1 || a.Created.IsZero() {
		t.Fatalf("first rule: %+v", a)
	}
	if _, err := rules.Create(ctx, wire.AlertRule{Name: "crash"}); !errors.Is(err, ErrAlertRuleExists) {
		t.Fatalf("same name: %v, want ErrAlertRuleExists", err)
	}
	b, err := rules.Create(ctx, wire.AlertRule{Name: "oom", Kind: wire.AlertKindEvent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Replace(ctx, wire.AlertRule{ID: b.ID, Name: "crash"}); !errors.Is(err, ErrAlertRuleExists) {
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
	if _, err := rules.Replace(ctx, b); !errors.Is(err, ErrAlertRuleNotFound) {
		t.Fatalf("replacing a deleted rule: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rules, err = NewAlertRules(st)
	if err != nil {
		t.Fatal(err)
	}
	list, err := rules.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "crashed" || list[0].When != "exitCode == 3" || list[1].Name != "crash" {
		t.Fatalf("after reopening: %+v", list)
	}
	if !list[0].Created.Equal(a.Created) {
		t.Fatalf("Replace changed Created: %v, was %v", list[0].Created, a.Created)
	}
}
