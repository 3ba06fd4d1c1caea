package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func tp(t time.Time) *time.Time { return &t }

func TestNormalize(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	cases := []struct {
		name     string
		in       wire.Event
		wantTags []string
		wantType string
		wantVal  string
		wantErr  string
	}{
		{name: "minimum", in: wire.Event{Tags: []string{"custom_tag"}}, wantTags: []string{"custom_tag"}, wantType: "event", wantVal: `""`},
		{name: "combined", in: wire.Event{Tags: []string{"scales:large", "archive:delete"}}, wantTags: []string{"scales", "scales:large", "archive", "archive:delete"}, wantType: "event", wantVal: `""`},
		{name: "first colon only", in: wire.Event{Tags: []string{"a:b:c"}}, wantTags: []string{"a", "a:b:c"}, wantType: "event", wantVal: `""`},
		{name: "dedupe keeps order", in: wire.Event{Tags: []string{"b", "a:x", "a", "b", "a:x"}}, wantTags: []string{"b", "a", "a:x"}, wantType: "event", wantVal: `""`},
		{name: "leading colon", in: wire.Event{Tags: []string{":x"}}, wantTags: []string{":x"}, wantType: "event", wantVal: `""`},
		{name: "null value", in: wire.Event{Tags: []string{"a"}, Value: json.RawMessage("null")}, wantTags: []string{"a"}, wantType: "event", wantVal: `""`},
		{name: "object value compacted", in: wire.Event{Tags: []string{"a"}, Type: "metrics-1_x", Value: json.RawMessage(`{ "cpu" : 1 }`)}, wantTags: []string{"a"}, wantType: "metrics-1_x", wantVal: `{"cpu":1}`},
		{name: "no tags", in: wire.Event{}, wantErr: "tags: at least one tag is required"},
		{name: "empty tag", in: wire.Event{Tags: []string{"a", ""}}, wantErr: "tags: empty tag"},
		{name: "nul tag", in: wire.Event{Tags: []string{"a\x00b"}}, wantErr: "tags: tag contains a NUL character"},
		{name: "bad type", in: wire.Event{Tags: []string{"a"}, Type: "a b"}, wantErr: "type: must match"},
		{name: "bad value", in: wire.Event{Tags: []string{"a"}, Value: json.RawMessage(`{`)}, wantErr: "value: not valid JSON"},
		{name: "timestamp range", in: wire.Event{Tags: []string{"a"}, Timestamp: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, wantErr: "timestamp: out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Normalize(c.in, now)
			if c.wantErr != "" {
				var fe *FieldError
				if err == nil || !errors.As(err, &fe) || len(err.Error()) < len(c.wantErr) || err.Error()[:len(c.wantErr)] != c.wantErr {
					t.Fatalf("err = %v, want prefix %q (FieldError)", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Tags, c.wantTags) || got.Type != c.wantType || string(got.Value) != c.wantVal {
				t.Fatalf("got %+v", got)
			}
			if !got.Timestamp.Equal(now) || got.Timestamp.Location() != time.UTC {
				t.Fatalf("timestamp %v, want now in UTC", got.Timestamp)
			}
		})
	}
}

func TestFilterValidate(t *testing.T) {
	for _, c := range []struct {
		f   Filter
		err string
	}{
		{Filter{}, ""},
		{Filter{Lt: tp(t0), Gte: tp(t0)}, ""},
		{Filter{Lt: tp(t0), Lte: tp(t0)}, "timestamp: lt and lte are exclusive"},
		{Filter{Gt: tp(t0), Gte: tp(t0)}, "timestamp: gt and gte are exclusive"},
		{Filter{Tags: []string{""}}, "tags: empty tag"},
		{Filter{Type: "no way"}, "type: must match"},
	} {
		err := c.f.Validate()
		if (err == nil) != (c.err == "") || err != nil && err.Error()[:len(c.err)] != c.err {
			t.Errorf("%+v: err %v, want %q", c.f, err, c.err)
		}
	}
}

func TestTagsAndPagination(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()

	p, err := s.Query(ctx, Query{})
	if err != nil || p.Total != 0 || len(p.Events) != 0 || p.Events == nil {
		t.Fatalf("empty store: %+v %v", p, err)
	}
	if s.LastID() != 0 {
		t.Fatal("LastID of empty store")
	}

	out := mustAppend(t, s, ev(t0, "", "scales:large", "archive"))
	if out[0].ID != 1 || !slices.Equal(out[0].Tags, []string{"scales", "scales:large", "archive"}) {
		t.Fatalf("append returned %+v", out[0])
	}
	for i := 2; i <= 75; i++ {
		typ := "even"
		if i%2 == 1 {
			typ = "odd"
		}
		mustAppend(t, s, ev(t0.Add(time.Duration(i)*time.Second), typ, "n", fmt.Sprintf("mod3:%d", i%3)))
	}
	cases := []struct {
		q         Query
		total     int
		firstID   uint64
		n         int
		wantEmpty bool
	}{
		{Query{}, 75, 75, 30, false},
		{Query{Page: 3}, 75, 15, 15, false}, // last page, partial
		{Query{Page: 4}, 75, 0, 0, true},    // past the end
		{Query{Page: 100}, 75, 0, 0, true},  // far past
		{Query{PerPage: 75}, 75, 75, 75, false},
		{Query{PerPage: 5000}, 75, 75, 75, false}, // capped at MaxPerPage
		{Query{Filter: Filter{Tags: []string{"scales"}}}, 1, 1, 1, false},
		{Query{Filter: Filter{Tags: []string{"scales:large"}}}, 1, 1, 1, false},
		{Query{Filter: Filter{Tags: []string{"scales", "archive"}}}, 1, 1, 1, false},
		{Query{Filter: Filter{Tags: []string{"scales", "n"}}}, 0, 0, 0, true},
		{Query{Filter: Filter{Tags: []string{"nope"}}}, 0, 0, 0, true},
		{Query{Filter: Filter{Tags: []string{"mod3"}}, PerPage: 10, Page: 8}, 74, 5, 4, false},
		{Query{Filter: Filter{Tags: []string{"mod3:0", "n"}, Type: "odd"}}, 13, 75, 13, false},
		{Query{Filter: Filter{Type: "even"}, PerPage: 37}, 37, 74, 37, false},
		{Query{Filter: Filter{Type: "event"}}, 1, 1, 1, false},
		{Query{Filter: Filter{Gte: tp(t0.Add(70 * time.Second))}}, 6, 75, 6, false},
		{Query{Filter: Filter{Gt: tp(t0.Add(70 * time.Second)), Lt: tp(t0.Add(73 * time.Second))}}, 2, 72, 2, false},
		{Query{Filter: Filter{Lte: tp(t0)}}, 1, 1, 1, false},
	}
	o := oracle{}
	if err := s.Scan(ctx, 0, 0, Filter{}, func(e wire.Event) error { o.events = append(o.events, e); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		p, err := s.Query(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != c.total || len(p.Events) != c.n || (c.n > 0 && p.Events[0].ID != c.firstID) {
			t.Errorf("%+v: total %d n %d first %v; want %d %d %d", c.q, p.Total, len(p.Events), ids(p.Events), c.total, c.n, c.firstID)
		}
		for i := 1; i < len(p.Events); i++ {
			if p.Events[i].ID >= p.Events[i-1].ID {
				t.Fatalf("%+v: not newest first: %v", c.q, ids(p.Events))
			}
		}
		sameEvents(t, fmt.Sprintf("%+v", c.q), p.Events, o.query(c.q).Events)
	}
	if _, err := s.Query(ctx, Query{Filter: Filter{Lt: tp(t0), Lte: tp(t0)}}); err == nil {
		t.Fatal("lt+lte accepted")
	}
}

// randomStore appends n events with random tags, types and timestamps that
// mostly grow with the id but jitter, like events from several engines.
func randomStore(t *testing.T, s *boltStore, rng *rand.Rand, n int, start time.Time) *oracle {
	t.Helper()
	o := &oracle{}
	var batch []wire.Event
	for i := 0; i < n; i++ {
		var tags []string
		for j := 0; j <= rng.IntN(3); j++ {
			tags = append(tags, fmt.Sprintf("t%d", rng.IntN(8)))
		}
		if rng.IntN(4) == 0 {
			tags = append(tags, fmt.Sprintf("host:h%d", rng.IntN(3)))
		}
		ts := start.Add(time.Duration(i)*time.Second + time.Duration(rng.IntN(20)-10)*time.Second)
		e := ev(ts, []string{"a", "b", "c"}[rng.IntN(3)], tags...)
		if rng.IntN(2) == 0 {
			e.Value = json.RawMessage(fmt.Sprintf(`{"cpu":%d}`, rng.IntN(100)))
		}
		batch = append(batch, e)
		if len(batch) == 1+rng.IntN(50) || i == n-1 {
			o.events = append(o.events, mustAppend(t, s, batch...)...)
			batch = nil
		}
	}
	return o
}

func randomFilter(rng *rand.Rand, o *oracle) Filter {
	var f Filter
	for j := rng.IntN(3); j > 0; j-- {
		f.Tags = append(f.Tags, []string{"t0", "t1", "t2", "t3", "host", "host:h1", "missing"}[rng.IntN(7)])
	}
	if rng.IntN(3) == 0 {
		f.Type = []string{"a", "b", "c", "event"}[rng.IntN(4)]
	}
	if len(o.events) > 0 && rng.IntN(3) == 0 {
		ts := o.events[rng.IntN(len(o.events))].Timestamp
		switch rng.IntN(4) {
		case 0:
			f.Gte = &ts
		case 1:
			f.Gt = &ts
		case 2:
			f.Lt = &ts
		default:
			f.Lte = &ts
		}
		if rng.IntN(2) == 0 {
			ts2 := ts.Add(time.Duration(rng.IntN(600)) * time.Second)
			f.Lt, f.Lte = &ts2, nil
		}
	}
	return f
}

func compareWithOracle(t *testing.T, s *boltStore, o *oracle, rng *rand.Rand, rounds int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < rounds; i++ {
		f := randomFilter(rng, o)
		want := o.query(Query{Filter: f, PerPage: 1})
		per := 1 + rng.IntN(40)
		last := (want.Total + per - 1) / per
		for _, page := range []int{1, 2, last, last - 1, last + 1, 1 + rng.IntN(last+1)} {
			q := Query{Filter: f, Page: page, PerPage: per}
			got, err := s.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			w := o.query(q)
			if got.Total != w.Total {
				t.Fatalf("%+v: total %d want %d", q, got.Total, w.Total)
			}
			sameEvents(t, fmt.Sprintf("query %+v", q), got.Events, w.Events)
		}
		lastID := s.LastID()
		after := uint64(rng.IntN(int(lastID) + 2))
		upTo := uint64(rng.IntN(int(lastID) + 2))
		var got []wire.Event
		if err := s.Scan(ctx, after, upTo, f, func(e wire.Event) error { got = append(got, e); return nil }); err != nil {
			t.Fatal(err)
		}
		if upTo == 0 {
			upTo = lastID
		}
		sameEvents(t, fmt.Sprintf("scan (%d,%d] %+v", after, upTo, f), got, o.scan(after, upTo, f))

		n, err := s.Aggregate(ctx, f, Aggregator{Type: "count"})
		if err != nil || int(n) != want.Total {
			t.Fatalf("count %v %v want %d", n, err, want.Total)
		}
	}
}

func TestQueryMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := openTest(t, Options{})
	n := 3000
	if testing.Short() {
		n = 800
	}
	o := randomStore(t, s, rng, n, t0)
	checkIntegrity(t, s)
	compareWithOracle(t, s, o, rng, 150)

	// Retention: by count, then by age; the oracle drops the same prefix.
	s.opts.MaxEvents = n - 700
	if _, err := s.prune(time.Now()); err != nil {
		t.Fatal(err)
	}
	o.dropOldest(700)
	checkIntegrity(t, s)
	compareWithOracle(t, s, o, rng, 100)

	s.opts.MaxEvents = 0
	s.opts.Retention = time.Hour
	now := t0.Add(time.Duration(n/2)*time.Second + time.Hour)
	if _, err := s.prune(now); err != nil {
		t.Fatal(err)
	}
	cut := now.Add(-time.Hour)
	k := 0
	for k < len(o.events) && o.events[k].Timestamp.Before(cut) {
		k++
	}
	o.dropOldest(k)
	checkIntegrity(t, s)
	if p, _ := s.Query(context.Background(), Query{}); p.Total != len(o.events) {
		t.Fatalf("after age retention total %d, want %d", p.Total, len(o.events))
	}
	compareWithOracle(t, s, o, rng, 100)

	// Appends keep working on the shrunk store, and tags emptied by
	// retention come back with fresh sequences.
	o.events = append(o.events, mustAppend(t, s, ev(t0, "a", "t0", "brand:new"))...)
	checkIntegrity(t, s)
	compareWithOracle(t, s, o, rng, 30)
}

func TestRetentionEmptiesStore(t *testing.T) {
	s := openTest(t, Options{})
	for i := 0; i < 2500; i++ {
		mustAppend(t, s, ev(t0.Add(time.Duration(i)), "x", "a:b", fmt.Sprintf("u%d", i)))
	}
	s.opts.Retention = time.Minute
	n, err := s.prune(t0.Add(time.Hour))
	if err != nil || n != 2500 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	checkIntegrity(t, s)
	p, _ := s.Query(context.Background(), Query{Filter: Filter{Tags: []string{"a"}}})
	if p.Total != 0 || s.LastID() != 2500 {
		t.Fatalf("total %d last %d", p.Total, s.LastID())
	}
	out := mustAppend(t, s, ev(t0.Add(2*time.Hour), "", "a"))
	if out[0].ID != 2501 {
		t.Fatalf("id after emptying: %d", out[0].ID)
	}
	checkIntegrity(t, s)
}

func TestRetentionLoop(t *testing.T) {
	s := openTest(t, Options{MaxEvents: 10, RetentionEvery: 10 * time.Millisecond})
	for i := 0; i < 50; i++ {
		mustAppend(t, s, ev(time.Time{}, "", "x"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := s.Query(context.Background(), Query{Filter: Filter{Tags: []string{"x"}}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total == 10 {
			if p.Events[9].ID != 41 {
				t.Fatalf("kept the wrong events: %v", ids(p.Events))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention did not run: total %d", p.Total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkIntegrity(t, s)
}

func TestScanBoundaries(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	for i := 1; i <= 600; i++ {
		mustAppend(t, s, ev(t0.Add(time.Duration(i)*time.Minute), "", "x"))
	}
	collect := func(after, upTo uint64, f Filter) []uint64 {
		var got []uint64
		if err := s.Scan(ctx, after, upTo, f, func(e wire.Event) error { got = append(got, e.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	seq := func(a, b uint64) []uint64 {
		var out []uint64
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
		return out
	}
	for _, c := range []struct {
		after, upTo uint64
		f           Filter
		want        []uint64
	}{
		{0, 0, Filter{}, seq(1, 600)},
		{599, 0, Filter{}, []uint64{600}},
		{600, 0, Filter{}, nil},
		{10, 10, Filter{}, nil},
		{10, 11, Filter{}, []uint64{11}},
		{0, 700, Filter{}, seq(1, 600)},
		{0, 0, Filter{Gte: tp(t0.Add(590 * time.Minute))}, seq(590, 600)},
		{0, 0, Filter{Gt: tp(t0.Add(590 * time.Minute))}, seq(591, 600)},
		{0, 595, Filter{Gte: tp(t0.Add(590 * time.Minute))}, seq(590, 595)},
		{592, 0, Filter{Gte: tp(t0.Add(590 * time.Minute)), Tags: []string{"x"}}, seq(593, 600)},
		{0, 0, Filter{Gte: tp(t0.Add(100 * time.Minute)), Lte: tp(t0.Add(102 * time.Minute))}, seq(100, 102)},
		{0, 0, Filter{Gte: tp(t0.Add(1000 * time.Minute))}, nil},
		{0, 0, Filter{Lt: tp(t0)}, nil},
	} {
		if got := collect(c.after, c.upTo, c.f); !slices.Equal(got, c.want) {
			t.Errorf("scan (%d,%d] %+v: got %v, want %v", c.after, c.upTo, c.f, got, c.want)
		}
	}
	n := 0
	err := s.Scan(ctx, 0, 0, Filter{}, func(wire.Event) error {
		if n++; n == 300 {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != 300 {
		t.Fatalf("ErrStop: n %d err %v", n, err)
	}
	boom := errors.New("boom")
	if err := s.Scan(ctx, 0, 0, Filter{}, func(wire.Event) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn error lost: %v", err)
	}
}

func TestSubscribersSeeIDOrder(t *testing.T) {
	s := openTest(t, Options{})
	const writers, each = 32, 40
	sub := s.Subscribe(writers * each * 2)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				out, err := s.Append(context.Background(), ev(time.Time{}, "", fmt.Sprintf("w%d", w)))
				if err != nil {
					errs <- err
					return
				}
				if out[0].ID == 0 {
					errs <- errors.New("no id")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for want := uint64(1); want <= writers*each; want++ {
		select {
		case e := <-sub.C():
			if e.ID != want {
				t.Fatalf("got id %d, want %d", e.ID, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("timeout waiting for %d", want)
		}
	}
	if s.LastID() != writers*each {
		t.Fatalf("LastID %d", s.LastID())
	}
	checkIntegrity(t, s)
}

func TestCloseAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "events.db")
	st, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sub := st.Subscribe(10)
	in := mustAppend(t, st, ev(t0, "metrics", "x:y"), wire.Event{Tags: []string{"v"}, Value: json.RawMessage(`{"cpu": 2.5}`), Timestamp: t0})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := st.Append(context.Background(), ev(t0, "", "z")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	<-sub.Done()

	st, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.LastID() != 2 {
		t.Fatalf("LastID after reopen %d", st.LastID())
	}
	p, err := st.Query(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(p.Events)
	sameEvents(t, "reopened", p.Events, in)
	out := mustAppend(t, st, ev(t0, "", "x"))
	if out[0].ID != 3 {
		t.Fatalf("id after reopen %d", out[0].ID)
	}
	checkIntegrity(t, st.(*boltStore))
}

func TestAppendContext(t *testing.T) {
	s := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, ev(t0, "", "x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	// A request abandoned while queued must not be written; one taken must
	// be reported truthfully. Either way ids stay contiguous.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(200))*time.Microsecond)
			defer cancel()
			_, _ = s.Append(ctx, ev(t0, "", "y"))
		}()
	}
	wg.Wait()
	mustAppend(t, s, ev(t0, "", "z"))
	checkIntegrity(t, s)
	if _, err := s.Append(context.Background(), wire.Event{}); err == nil {
		t.Fatal("invalid event accepted")
	} else if fe := (*FieldError)(nil); !errors.As(err, &fe) || fe.Field != "tags" {
		t.Fatalf("want FieldError on tags, got %v", err)
	}
}

func TestAggregate(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	vals := []string{`{"cpu":1}`, `{"cpu":2.5}`, `{"cpu":-4}`, `{"cpu":"9"}`, `{"mem":7}`, `[1]`, `3`, ``}
	for i, v := range vals {
		mustAppend(t, s, wire.Event{Tags: []string{"m"}, Type: "metrics", Value: json.RawMessage(v), Timestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	mustAppend(t, s, wire.Event{Tags: []string{"other"}, Value: json.RawMessage(`{"cpu":100}`), Timestamp: t0})
	for _, c := range []struct {
		f    Filter
		a    Aggregator
		want float64
		err  bool
	}{
		{Filter{Tags: []string{"m"}}, Aggregator{Type: "count"}, 8, false},
		{Filter{}, Aggregator{Type: "count"}, 9, false},
		{Filter{Tags: []string{"m"}}, Aggregator{Type: "count", Field: "cpu"}, 3, false},
		{Filter{Tags: []string{"m"}}, Aggregator{Type: "average", Field: "cpu"}, -0.5 / 3, false},
		{Filter{Type: "metrics"}, Aggregator{Type: "min", Field: "cpu"}, -4, false},
		{Filter{Type: "metrics"}, Aggregator{Type: "max", Field: "cpu"}, 2.5, false},
		{Filter{}, Aggregator{Type: "max", Field: "cpu"}, 100, false},
		{Filter{Tags: []string{"m"}, Lt: tp(t0.Add(2 * time.Second))}, Aggregator{Type: "average", Field: "cpu"}, 1.75, false},
		{Filter{Tags: []string{"none"}}, Aggregator{Type: "average", Field: "cpu"}, 0, false},
		{Filter{Tags: []string{"m"}}, Aggregator{Type: "max", Field: "nothing"}, 0, false},
		{Filter{}, Aggregator{Type: "sum", Field: "cpu"}, 0, true},
		{Filter{}, Aggregator{Type: "average"}, 0, true},
	} {
		got, err := s.Aggregate(ctx, c.f, c.a)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%+v %+v: got %v, %v; want %v (err %v)", c.f, c.a, got, err, c.want, c.err)
		}
	}
}
