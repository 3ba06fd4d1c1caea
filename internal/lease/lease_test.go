package lease_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/lease"
	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
	"github.com/crowsnest-hq/crowsnest/internal/natstest"
)

const (
	ttl         = time.Second
	waitTimeout = 60 * time.Second
)

// replica is one contender: a store of its own on the shared server and
// its leases.
func replica(t *testing.T, url, owner string) (*lease.Leases, *natsstore.Store) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	st, err := natsstore.Open(natsstore.Options{URLs: []string{url}, ViewPath: filepath.Join(t.TempDir(), "view.db"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	waitHealthy(t, st)
	return lease.New(lease.Options{Bucket: st.KeyValue, Owner: owner, TTL: ttl, Logger: log}), st
}

// waitHealthy waits until st reaches NATS: leases are refused before.
func waitHealthy(t *testing.T, st *natsstore.Store) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for st.Health() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("store never reached NATS: %v", st.Health())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return c
}

// TestAcquireOneAtATime: of two contenders one acts; the other gets the
// lease once the holder releases it, or once the holder dies and the TTL
// has run out.
func TestAcquireOneAtATime(t *testing.T) {
	url := natstest.Single(t)
	a, ast := replica(t, url, "a")
	b, _ := replica(t, url, "b")
	held, err := a.Acquire(ctx(t), "stack/Localhost/web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx(t), "stack/Localhost/web"); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("second contender: %v, want ErrHeld", err)
	}
	// Renewals keep it held well past the TTL.
	time.Sleep(3 * ttl)
	if _, err := b.Acquire(ctx(t), "stack/Localhost/web"); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("after 3 TTLs of renewals: %v, want ErrHeld", err)
	}
	held.Release()
	bHeld, err := b.Acquire(ctx(t), "stack/Localhost/web")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	bHeld.Release()

	if _, err := a.Acquire(ctx(t), "stack/Localhost/db"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := ast.Close(); err != nil { // the holder dies without releasing
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		_, err := b.Acquire(ctx(t), "stack/Localhost/db")
		if err == nil {
			break
		}
		if !errors.Is(err, lease.ErrHeld) || time.Now().After(deadline) {
			t.Fatalf("taking over from a dead holder: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if waited := time.Since(start); waited < ttl/2 {
		t.Fatalf("took over after %v, before the holder's lease could expire", waited)
	}
}

// TestClaimSticks: a claim stays with its replica while it keeps claiming
// and passes to the other once it stops for a TTL.
func TestClaimSticks(t *testing.T) {
	url := natstest.Single(t)
	a, _ := replica(t, url, "a")
	b, _ := replica(t, url, "b")
	for i, c := range []struct {
		l    *lease.Leases
		want bool
	}{{a, true}, {b, false}, {a, true}, {b, false}} {
		got, err := c.l.Claim(ctx(t), "alert/cpu/Localhost/web")
		if err != nil || got != c.want {
			t.Fatalf("claim %d: %v, %v; want %v", i, got, err, c.want)
		}
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		got, err := b.Claim(ctx(t), "alert/cpu/Localhost/web")
		if err != nil {
			t.Fatal(err)
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("claim never passed to b after a stopped claiming")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, _ := a.Claim(ctx(t), "alert/cpu/Localhost/web"); got {
		t.Fatal("a claims again what b now holds")
	}
	var none *lease.Leases
	if got, err := none.Claim(ctx(t), "x"); !got || err != nil {
		t.Fatalf("a single crowsnest (nil Leases) claims: %v, %v", got, err)
	}
}
