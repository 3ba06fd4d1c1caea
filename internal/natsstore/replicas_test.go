package natsstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
	"github.com/crowsnest-hq/crowsnest/internal/natstest"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// replicaOpts are the options of one replica: its own view file.
func replicaOpts(t *testing.T, urls string, replicas int) natsstore.Options {
	u, err := natsstore.ParseURLs(urls)
	if err != nil {
		t.Fatal(err)
	}
	return natsstore.Options{
		URLs: u, Replicas: replicas, ViewPath: filepath.Join(t.TempDir(), "view.db"),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}
}

func post(t *testing.T, st store.Store, tag string) wire.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, err := st.Append(ctx, wire.Event{Tags: []string{tag}})
	if err != nil {
		t.Fatalf("append %s: %v", tag, err)
	}
	return out[0]
}

// all is every event of st, oldest first.
func all(t *testing.T, st store.Store) []wire.Event {
	t.Helper()
	var out []wire.Event
	if err := st.Scan(context.Background(), 0, 0, store.Filter{}, func(e wire.Event) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func tagsOf(events []wire.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, fmt.Sprintf("%d:%s", e.ID, e.Tags[0]))
	}
	return out
}

// TestTwoReplicasOneHistory: what one replica stores, it reads at once;
// the other reads it shortly, in the same order and under the same ids,
// and its subscribers see it live.
func TestTwoReplicasOneHistory(t *testing.T) {
	url := natstest.Single(t)
	a := openReady(t, replicaOpts(t, url, 1))
	defer a.Close()
	b := openReady(t, replicaOpts(t, url, 1))
	defer b.Close()
	sub := b.Subscribe(64)
	defer sub.Close()

	for i := range 10 {
		st := a
		if i%2 == 1 {
			st = b
		}
		e := post(t, st, fmt.Sprintf("e%d", i))
		page, err := st.Query(context.Background(), store.Query{Filter: store.Filter{Tags: []string{e.Tags[0]}}})
		if err != nil || page.Total != 1 || page.Events[0].ID != e.ID {
			t.Fatalf("replica that stored %v does not read it back at once: %+v, %v", e, page, err)
		}
	}
	waitFor(t, "b to apply every event", func() bool { return b.LastID() == a.LastID() })
	if ga, gb := tagsOf(all(t, a)), tagsOf(all(t, b)); !slices.Equal(ga, gb) || len(ga) != 10 {
		t.Fatalf("replicas differ:\n a %v\n b %v", ga, gb)
	}
	var live []uint64
	for len(live) < 10 {
		select {
		case e := <-sub.C():
			live = append(live, e.ID)
		case <-time.After(waitTimeout):
			t.Fatalf("b's subscriber got %v", live)
		}
	}
	if !slices.IsSorted(live) || live[0] != 1 || live[9] != 10 {
		t.Fatalf("b's subscriber saw ids %v", live)
	}
}

// TestKeyedOnce: two replicas storing the same keyed events (as two
// replicas watching one engine do) store each once and both get its id.
func TestKeyedOnce(t *testing.T) {
	url := natstest.Single(t)
	a := openReady(t, replicaOpts(t, url, 1))
	defer a.Close()
	b := openReady(t, replicaOpts(t, url, 1))
	defer b.Close()
	ctx := context.Background()
	events := []wire.Event{{Tags: []string{"k1"}}, {Tags: []string{"k2"}}, {Tags: []string{"k3"}}}
	keys := []string{"host/c1/start/1", "host/c1/die/2", "host/c2/start/3"}
	ga, err := a.AppendKeyed(ctx, keys, events...)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := b.AppendKeyed(ctx, keys[1:], events[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	if gb[0].ID != ga[1].ID || gb[1].ID != ga[2].ID {
		t.Fatalf("repeats got ids %v, first stored as %v", tagsOf(gb), tagsOf(ga))
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf(all(t, b)); len(got) != 3 {
		t.Fatalf("stored %v, want each keyed event once", got)
	}
}

// TestCatchUp: a replica that was closed while the other stored events
// applies them when it opens again, from where it stopped.
func TestCatchUp(t *testing.T) {
	url := natstest.Single(t)
	a := openReady(t, replicaOpts(t, url, 1))
	defer a.Close()
	bOpts := replicaOpts(t, url, 1)
	b := openReady(t, bOpts)
	post(t, a, "before")
	if err := b.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		post(t, a, fmt.Sprintf("while-down-%d", i))
	}
	b = openReady(t, bOpts)
	defer b.Close()
	if ga, gb := tagsOf(all(t, a)), tagsOf(all(t, b)); !slices.Equal(ga, gb) || len(gb) != 51 {
		t.Fatalf("after catching up:\n a %v\n b %v", ga, gb)
	}
}

// TestViewFollowsStreamLimits: a replica that comes back after the stream
// dropped events it never saw keeps a contiguous run: the stream's.
func TestViewFollowsStreamLimits(t *testing.T) {
	url := natstest.Single(t)
	aOpts := replicaOpts(t, url, 1)
	aOpts.MaxEvents = 5
	a := openReady(t, aOpts)
	defer a.Close()
	bOpts := replicaOpts(t, url, 1)
	bOpts.MaxEvents = 5
	b := openReady(t, bOpts)
	post(t, a, "old")
	if err := b.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		post(t, a, fmt.Sprintf("new-%d", i))
	}
	b = openReady(t, bOpts)
	defer b.Close()
	got := all(t, b)
	if len(got) != 5 || got[0].ID != 17 || got[4].ID != 21 {
		t.Fatalf("b holds %v, want ids 17 to 21", tagsOf(got))
	}
	page, err := b.Query(context.Background(), store.Query{PerPage: 2, Page: 2})
	if err != nil || page.Total != 5 || len(page.Events) != 2 || page.Events[0].ID != 19 {
		t.Fatalf("page 2 of 2: %+v, %v", page, err)
	}
}

// TestStartWithoutNATS: the store opens with no server answering, says why
// it takes no writes, serves reads, and works once a server starts.
func TestStartWithoutNATS(t *testing.T) {
	port := natstest.FreePort(t)
	st, err := natsstore.Open(replicaOpts(t, fmt.Sprintf("nats://127.0.0.1:%d", port), 1))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Health(); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("health without NATS: %v", err)
	}
	if _, err := st.Append(context.Background(), wire.Event{Tags: []string{"x"}}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("append without NATS: %v", err)
	}
	if page, err := st.Query(context.Background(), store.Query{}); err != nil || page.Total != 0 {
		t.Fatalf("query without NATS: %+v, %v", page, err)
	}
	natstest.SingleOn(t, port, t.TempDir())
	waitFor(t, "the store to reach NATS", func() bool { return st.Health() == nil })
	post(t, st, "after")
}

// TestClusterLosesANode: with three replicas of the stream, stopping one
// server loses no acknowledged event and the store keeps taking writes.
func TestClusterLosesANode(t *testing.T) {
	c := natstest.NewCluster(t, 3)
	a := openReady(t, replicaOpts(t, c.URLs(), 3))
	defer a.Close()
	b := openReady(t, replicaOpts(t, c.URLs(), 3))
	defer b.Close()
	for i := range 10 {
		post(t, a, fmt.Sprintf("before-%d", i))
	}
	c.Stop(0)
	// A client of the stopped server reconnects to another, and the stream
	// may elect a new leader: writes fail meanwhile, as a POST would, and
	// the client tries again.
	var last uint64
	for i := range 10 {
		tag := fmt.Sprintf("after-%d", i)
		waitFor(t, "a write to "+tag, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			out, err := b.Append(ctx, wire.Event{Tags: []string{tag}})
			if err == nil {
				last = out[0].ID
			}
			return err == nil
		})
	}
	if err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	ga, gb := all(t, a), all(t, b)
	if !slices.Equal(tagsOf(ga), tagsOf(gb)) || a.LastID() != last {
		t.Fatalf("replicas differ:\n a %v\n b %v", tagsOf(ga), tagsOf(gb))
	}
	for i := range 10 {
		for _, tag := range []string{fmt.Sprintf("before-%d", i), fmt.Sprintf("after-%d", i)} {
			if !slices.ContainsFunc(ga, func(e wire.Event) bool { return e.Tags[0] == tag }) {
				t.Fatalf("acknowledged event %s lost: %v", tag, tagsOf(ga))
			}
		}
	}
}
