package store

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/benchfloor"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

var clientCounts = []int{1, 16, 64}

func benchEvent(i int) wire.Event {
	return wire.Event{
		Tags:      []string{"bench", fmt.Sprintf("host:h%d", i%4)},
		Type:      "metrics",
		Value:     []byte(fmt.Sprintf(`{"cpu":%d}`, i%100)),
		Timestamp: t0.Add(time.Duration(i) * time.Millisecond),
	}
}

// runClients splits b.N operations over clients goroutines and reports the
// throughput as events/s.
func runClients(b *testing.B, clients int, op func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > b.N {
					return
				}
				if err := op(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkAppend is the store side of a durable POST: one event per Append,
// from several clients at once, each fsynced (shared by group commit).
func BenchmarkAppend(b *testing.B) {
	for _, clients := range clientCounts {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			s := openTest(b, Options{})
			ctx := context.Background()
			runClients(b, clients, func(i int) error {
				_, err := s.Append(ctx, benchEvent(i))
				return err
			})
		})
	}
}

// BenchmarkGroupCommitFloor is BenchmarkAppend's floor: the same
// normalised, encoded events put by as many goroutines through a
// hand-written group commit (benchfloor.GroupCommit: one fsynced db.Update
// for every put pending), each with one plain index entry for its time,
// each tag and its type, and no counters or spans.
func BenchmarkGroupCommitFloor(b *testing.B) {
	for _, clients := range clientCounts {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			g, err := benchfloor.OpenGroupCommit(filepath.Join(b.TempDir(), "floor.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := g.Close(); err != nil {
					b.Error(err)
				}
			}()
			runClients(b, clients, func(i int) error {
				e, err := Normalize(benchEvent(i), time.Now())
				if err != nil {
					return err
				}
				return g.Put(encodeRecord(e, 0), benchfloor.IndexPrefixes(e)...)
			})
		})
	}
}

const deepEvents = 1_000_000

var (
	deepOnce  sync.Once
	deepDir   string
	deepStore *boltStore
	deepErr   error
)

// deepFixture builds the 1,000,000-event store once per process, writing
// through appendTx in large transactions (the group-commit path would spend
// minutes on fsyncs). Each event has 3 or 4 tags and one of 3 types.
func deepFixture(b *testing.B) *boltStore {
	if testing.Short() {
		b.Skip("1M-event fixture skipped in -short mode")
	}
	deepOnce.Do(func() {
		start := time.Now()
		deepDir, deepErr = os.MkdirTemp("", "crowsnest-store-bench-")
		if deepErr != nil {
			return
		}
		var st Store
		st, deepErr = Open(filepath.Join(deepDir, "events.db"), Options{})
		if deepErr != nil {
			return
		}
		deepStore = st.(*boltStore)
		const perTx = 50_000
		next, maxTs := uint64(1), int64(math.MinInt64)
		for n := 0; n < deepEvents; n += perTx {
			batch := make([]wire.Event, perTx)
			for i := range batch {
				k := n + i
				batch[i], deepErr = Normalize(wire.Event{
					Tags:      []string{fmt.Sprintf("host:h%d", k%2), fmt.Sprintf("c%d", k%50)},
					Type:      []string{"metrics", "container", "deploy"}[k%3],
					Value:     []byte(`{"cpu":1}`),
					Timestamp: t0.Add(time.Duration(k) * time.Second),
				}, time.Now())
				if deepErr != nil {
					return
				}
				batch[i].ID = next
				next++
			}
			deepErr = deepStore.db.Update(func(tx *bolt.Tx) error {
				var err error
				maxTs, err = appendTx(tx, batch, maxTs)
				return err
			})
			if deepErr != nil {
				return
			}
		}
		// The writer goroutine owns these; it is idle, and the fixture is
		// read-only from here on.
		deepStore.nextID, deepStore.maxTs = next, maxTs
		deepStore.lastID.Store(next - 1)
		fmt.Fprintf(os.Stderr, "deep fixture: %d events in %v\n", deepEvents, time.Since(start).Round(time.Millisecond))
	})
	if deepErr != nil {
		b.Fatal(deepErr)
	}
	return deepStore
}

func TestMain(m *testing.M) {
	code := m.Run()
	if deepStore != nil {
		_ = deepStore.Close()
	}
	if deepDir != "" {
		_ = os.RemoveAll(deepDir)
	}
	os.Exit(code)
}

// BenchmarkQueryDeep shows that a page deep into a large result costs what
// the first page costs, for the filters answered from counters and index
// sequences.
func BenchmarkQueryDeep(b *testing.B) {
	filters := []struct {
		name string
		f    Filter
	}{
		{"none", Filter{}},
		{"tag", Filter{Tags: []string{"host:h1"}}},
		{"type", Filter{Type: "container"}},
	}
	for _, page := range []int{1, 10000} {
		for _, fl := range filters {
			b.Run(fmt.Sprintf("page=%d/filter=%s", page, fl.name), func(b *testing.B) {
				s := deepFixture(b)
				ctx := context.Background()
				q := Query{Filter: fl.f, Page: page, PerPage: 30}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					p, err := s.Query(ctx, q)
					if err != nil {
						b.Fatal(err)
					}
					if len(p.Events) != 30 || p.Total < 300_000 {
						b.Fatalf("page %d: %d events of %d", page, len(p.Events), p.Total)
					}
				}
			})
		}
	}
}
