package natsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
)

// waitTimeout bounds every wait for a condition; generous, for a loaded
// machine.
const waitTimeout = 60 * time.Second

// openReady opens a store and waits until it takes writes.
func openReady(t *testing.T, opts natsstore.Options) *natsstore.Store {
	t.Helper()
	st, err := natsstore.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "store healthy", func() bool { return st.Health() == nil })
	return st
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
