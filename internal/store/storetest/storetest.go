// Package storetest is the contract every store.Store backend passes: the
// same table of cases (append, query and pagination, scan, aggregate,
// subscription order, read-your-write) runs against the bbolt store and
// the NATS JetStream store. Only tests import it.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Open makes a new, empty store for one case; the case closes it.
type Open func(t *testing.T) store.Store

// t0 is the fixtures' first timestamp.
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs every case of the contract as a subtest, each on its own store.
func Run(t *testing.T, open Open) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"append", appendCase},
		{"append all or none", allOrNone},
		{"query matches oracle", queryCase},
		{"scan", scanCase},
		{"aggregate", aggregateCase},
		{"subscribers see id order", subscribeCase},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := open(t)
			defer func() {
				if err := st.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			}()
			c.fn(t, st)
		})
	}
}

func mustAppend(t *testing.T, st store.Store, events ...wire.Event) []wire.Event {
	t.Helper()
	out, err := st.Append(context.Background(), events...)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return out
}

// appendCase: ids increase, events come back normalised, and what Append
// returned is readable at once, exactly.
func appendCase(t *testing.T, st store.Store) {
	ctx := context.Background()
	one := mustAppend(t, st, wire.Event{Tags: []string{"deploy:web"}, Value: json.RawMessage(`{ "v" : 1 }`), Timestamp: t0})
	list := mustAppend(t, st,
		wire.Event{Tags: []string{"a"}, Type: "metrics", Timestamp: t0.Add(time.Second)},
		wire.Event{Tags: []string{"b", "b"}, Timestamp: t0.Add(2 * time.Second)},
		wire.Event{Tags: []string{"c"}},
	)
	all := append(one, list...)
	for i, e := range all {
		if e.ID == 0 || (i > 0 && e.ID <= all[i-1].ID) {
			t.Fatalf("ids not increasing: %v", ids(all))
		}
	}
	if got := all[0]; len(got.Tags) != 2 || !slices.Contains(got.Tags, "deploy") || got.Type != wire.DefaultEventType || string(got.Value) != `{"v":1}` {
		t.Fatalf("not normalised: %+v", got)
	}
	if all[3].Timestamp.IsZero() || !slices.Equal(all[2].Tags, []string{"b"}) {
		t.Fatalf("not normalised: %+v", all[2:])
	}
	if st.LastID() != all[3].ID {
		t.Fatalf("LastID %d, want %d", st.LastID(), all[3].ID)
	}
	page, err := st.Query(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(page.Events)
	same(t, "read back", page.Events, all)
}

// allOrNone: a list with one bad event stores none of them.
func allOrNone(t *testing.T, st store.Store) {
	mustAppend(t, st, wire.Event{Tags: []string{"x"}, Timestamp: t0})
	before := st.LastID()
	_, err := st.Append(context.Background(), wire.Event{Tags: []string{"x"}}, wire.Event{Tags: []string{"x"}, Type: "bad type"})
	var fe *store.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("bad event: got %v, want a FieldError", err)
	}
	page, err := st.Query(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if st.LastID() != before || page.Total != 1 {
		t.Fatalf("after a refused list: LastID %d (was %d), %d events", st.LastID(), before, page.Total)
	}
}

// fixture stores 60 events in three appends: tags host:h0..h2, c0..c4,
// every third "even"; types metrics and deploy; timestamps a second apart
// but out of order within each ten.
func fixture(t *testing.T, st store.Store) []wire.Event {
	var in []wire.Event
	for k := range 60 {
		tags := []string{fmt.Sprintf("host:h%d", k%3), fmt.Sprintf("c%d", k%5)}
		if k%3 == 0 {
			tags = append(tags, "even")
		}
		in = append(in, wire.Event{
			Tags:      tags,
			Type:      []string{"metrics", "deploy"}[k%2],
			Value:     json.RawMessage(fmt.Sprintf(`{"cpu":%d}`, k%7)),
			Timestamp: t0.Add(time.Duration(k/10*10+(9-k%10)) * time.Second),
		})
	}
	var out []wire.Event
	for chunk := range slices.Chunk(in, 20) {
		out = append(out, mustAppend(t, st, chunk...)...)
	}
	return out
}

func at(s int) *time.Time {
	v := t0.Add(time.Duration(s) * time.Second)
	return &v
}

func queryCase(t *testing.T, st store.Store) {
	events := fixture(t, st)
	for _, q := range []store.Query{
		{},
		{PerPage: 7, Page: 3},
		{PerPage: 7, Page: 9},
		{PerPage: 7, Page: 10},
		{Filter: store.Filter{Tags: []string{"host"}}, PerPage: 100},
		{Filter: store.Filter{Tags: []string{"host:h1"}}, Page: 2, PerPage: 5},
		{Filter: store.Filter{Tags: []string{"host:h1", "c2"}}},
		{Filter: store.Filter{Tags: []string{"even", "c0"}, Type: "deploy"}},
		{Filter: store.Filter{Type: "metrics"}, Page: 2, PerPage: 4},
		{Filter: store.Filter{Tags: []string{"nothing"}}},
		{Filter: store.Filter{Gte: at(10), Lt: at(25)}, PerPage: 4, Page: 2},
		{Filter: store.Filter{Tags: []string{"c3"}, Gt: at(30)}},
		{Filter: store.Filter{Type: "deploy", Lte: at(12)}},
	} {
		got, err := st.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		want := oracleQuery(events, q)
		if got.Total != want.Total {
			t.Errorf("%+v: total %d, want %d", q, got.Total, want.Total)
		}
		same(t, fmt.Sprintf("%+v", q), got.Events, want.Events)
	}
}

func oracleQuery(events []wire.Event, q store.Query) store.Page {
	var all []wire.Event
	for i := len(events) - 1; i >= 0; i-- {
		if q.Match(events[i]) {
			all = append(all, events[i])
		}
	}
	page, per := max(q.Page, 1), q.PerPage
	if per < 1 {
		per = store.DefaultPerPage
	}
	p := store.Page{Events: []wire.Event{}, Total: len(all)}
	if off := (page - 1) * per; off < len(all) {
		p.Events = all[off:min(off+per, len(all))]
	}
	return p
}

func scanCase(t *testing.T, st store.Store) {
	events := fixture(t, st)
	ctx := context.Background()
	first, last := events[0].ID, events[len(events)-1].ID
	for _, c := range []struct {
		after, upTo uint64
		f           store.Filter
	}{
		{0, 0, store.Filter{}},
		{first + 9, first + 30, store.Filter{}},
		{first + 9, 0, store.Filter{Tags: []string{"even"}}},
		{0, last - 5, store.Filter{Type: "deploy", Tags: []string{"host:h2"}}},
		{first, first + 40, store.Filter{Gte: at(20), Lt: at(45)}},
		{last, 0, store.Filter{}},
	} {
		var got []wire.Event
		if err := st.Scan(ctx, c.after, c.upTo, c.f, func(e wire.Event) error {
			got = append(got, e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		upTo := c.upTo
		if upTo == 0 {
			upTo = last
		}
		var want []wire.Event
		for _, e := range events {
			if e.ID > c.after && e.ID <= upTo && c.f.Match(e) {
				want = append(want, e)
			}
		}
		same(t, fmt.Sprintf("scan (%d, %d] %+v", c.after, c.upTo, c.f), got, want)
	}
	n := 0
	if err := st.Scan(ctx, 0, 0, store.Filter{}, func(wire.Event) error {
		if n++; n == 3 {
			return store.ErrStop
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("ErrStop: %d events, %v", n, err)
	}
}

func aggregateCase(t *testing.T, st store.Store) {
	vals := []string{`{"cpu":1}`, `{"cpu":2.5}`, `{"cpu":-4}`, `{"cpu":"9"}`, `{"mem":7}`, `3`}
	var in []wire.Event
	for i, v := range vals {
		in = append(in, wire.Event{Tags: []string{"m"}, Type: "metrics", Value: json.RawMessage(v), Timestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	mustAppend(t, st, in...)
	mustAppend(t, st, wire.Event{Tags: []string{"other"}, Value: json.RawMessage(`{"cpu":100}`), Timestamp: t0})
	for _, c := range []struct {
		f    store.Filter
		a    store.Aggregator
		want float64
	}{
		{store.Filter{Tags: []string{"m"}}, store.Aggregator{Type: "count"}, 6},
		{store.Filter{}, store.Aggregator{Type: "count"}, 7},
		{store.Filter{Tags: []string{"m"}}, store.Aggregator{Type: "count", Field: "cpu"}, 3},
		{store.Filter{Tags: []string{"m"}}, store.Aggregator{Type: "average", Field: "cpu"}, -0.5 / 3},
		{store.Filter{Type: "metrics"}, store.Aggregator{Type: "min", Field: "cpu"}, -4},
		{store.Filter{}, store.Aggregator{Type: "max", Field: "cpu"}, 100},
		{store.Filter{Tags: []string{"m"}, Lt: at(2)}, store.Aggregator{Type: "average", Field: "cpu"}, 1.75},
	} {
		got, err := st.Aggregate(context.Background(), c.f, c.a)
		if err != nil || got != c.want {
			t.Errorf("%+v %+v: got %v, %v; want %v", c.f, c.a, got, err, c.want)
		}
	}
}

// subscribeCase: concurrent appends reach a subscriber in strictly
// increasing id order, every one of them, and LastID ends at the last.
func subscribeCase(t *testing.T, st store.Store) {
	const writers, each = 8, 10
	sub := st.Subscribe(writers * each * 2)
	defer sub.Close()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for range each {
				if _, err := st.Append(context.Background(), wire.Event{Tags: []string{fmt.Sprintf("w%d", w)}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var prev uint64
	for range writers * each {
		select {
		case e := <-sub.C():
			if e.ID <= prev {
				t.Fatalf("id %d after %d", e.ID, prev)
			}
			prev = e.ID
		case <-time.After(30 * time.Second):
			t.Fatalf("subscriber got no event after id %d", prev)
		}
	}
	if st.LastID() != prev {
		t.Fatalf("LastID %d, last received %d", st.LastID(), prev)
	}
}

func ids(events []wire.Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// same compares events field by field.
func same(t *testing.T, what string, got, want []wire.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got ids %v, want %v", what, ids(got), ids(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Type != w.Type || !g.Timestamp.Equal(w.Timestamp) || !slices.Equal(g.Tags, w.Tags) || string(g.Value) != string(w.Value) {
			t.Fatalf("%s: event %d differs:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}
