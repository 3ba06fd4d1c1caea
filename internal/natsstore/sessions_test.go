package natsstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
	"github.com/crowsnest-hq/crowsnest/internal/natstest"
	"github.com/crowsnest-hq/crowsnest/internal/store"
)

// TestSessionsShared: a session stored through one replica is known to the
// other; deleting it, or its expiry, ends it on both.
func TestSessionsShared(t *testing.T) {
	url := natstest.Single(t)
	a := openReady(t, replicaOpts(t, url, 1))
	defer a.Close()
	b := openReady(t, replicaOpts(t, url, 1))
	defer b.Close()
	sa, sb := natsstore.NewSessions(a), natsstore.NewSessions(b)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	if err := sa.DeleteExpired(ctx, now); err != nil {
		t.Fatalf("sweep of an empty bucket: %v", err)
	}
	live := store.Session{Binding: "live", Expires: now.Add(time.Hour)}
	old := store.Session{Binding: "old", Expires: now.Add(-time.Minute)}
	for key, s := range map[string]store.Session{"k1": live, "k2": old, "k3": live} {
		if err := sa.Put(ctx, key, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sb.Get(ctx, "k1")
	if err != nil || got.Binding != "live" || !got.Expires.Equal(live.Expires) {
		t.Fatalf("other replica reads %+v, %v", got, err)
	}
	if err := sb.Delete(ctx, "k3"); err != nil {
		t.Fatal(err)
	}
	if err := sb.DeleteExpired(ctx, now); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]error{"k1": nil, "k2": store.ErrSessionNotFound, "k3": store.ErrSessionNotFound, "none": store.ErrSessionNotFound} {
		if _, err := sa.Get(ctx, key); !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", key, err, want)
		}
	}
	if err := sa.Delete(ctx, "none"); err != nil {
		t.Fatalf("deleting a missing session: %v", err)
	}
}
