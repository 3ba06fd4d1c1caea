package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/benchfloor"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// BenchmarkEventPost loads each side for benchPostWindow, benchPostRounds
// times, the three sides taking turns. Every event costs a share of an
// fsync, so a fixed window rather than a fixed count keeps the run short at
// 1 client and still long enough at 64; the turns and the medians keep a
// burst of other work on the shared machine from landing on one side only.
const (
	benchPostWindow = time.Second
	benchPostRounds = 5
)

// BenchmarkEventPost measures durable POST /api/v1/events through the whole
// HTTP handler (parse, normalise, group commit with fsync, 201 with the
// stored event) from 1, 16 and 64 concurrent clients, and in the same
// iteration the store alone (store.Append from as many goroutines, no
// HTTP) and the floor: a hand-written group commit (benchfloor.GroupCommit,
// one fsynced db.Update for every put pending) of the same normalised
// events, JSON-encoded, each with one plain index entry for its time, each
// tag and its type, as the store indexes them. The ratios to the floor are
// what the target (HTTP ≥ 0.8 at 64 clients) is about; the store's own
// ratio tells which of the two layers loses what, and the CPU each side
// spent per event (the whole process) tells why. Each figure is the median
// of its rounds.
func BenchmarkEventPost(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			p := startInProcess(b, Config{StreamQueue: 1024})
			client := &http.Client{Transport: &http.Transport{
				MaxIdleConnsPerHost: clients, // keep-alive for every client: measure the handler, not dials
				DisableCompression:  true,
			}}
			defer client.CloseIdleConnections()
			st := benchOpenStore(b)
			floor := benchOpenFloor(b)
			ctx := context.Background()

			sides := []func(i int) error{
				func(i int) error { return benchFloorAppend(floor, i) },
				func(i int) error {
					_, err := st.Append(ctx, postBenchEvent(i))
					return err
				},
				func(i int) error { return benchPostEvent(client, p.URL, i) },
			}
			var rate, cpu [3]float64 // floor, store alone, HTTP path
			for b.Loop() {
				var rates, cpus [3][]float64
				for round := range benchPostRounds {
					for k := range sides {
						side := (round + k) % len(sides) // each side goes first in turn
						r, c := benchLoadFor(b, clients, benchPostWindow, sides[side])
						rates[side] = append(rates[side], r)
						cpus[side] = append(cpus[side], c)
					}
				}
				for side := range sides {
					rate[side], cpu[side] = median(rates[side]), median(cpus[side])
				}
			}
			b.ReportMetric(rate[2], "events/s")
			b.ReportMetric(rate[1], "store-events/s")
			b.ReportMetric(rate[0], "floor-events/s")
			b.ReportMetric(rate[2]/rate[0], "ratio")
			b.ReportMetric(rate[1]/rate[0], "store-ratio")
			b.ReportMetric(cpu[2], "cpu-us/event")
			b.ReportMetric(cpu[1], "store-cpu-us/event")
			b.ReportMetric(cpu[0], "floor-cpu-us/event")
		})
	}
}

// postBenchEvent is the i-th benchmark event as a client posts it: two tags
// (one combined, so the store expands it), a type and a small numeric value.
func postBenchEvent(i int) wire.Event {
	return wire.Event{
		Tags:  []string{"bench", fmt.Sprintf("host:h%d", i%4)},
		Type:  "metrics",
		Value: json.RawMessage(fmt.Sprintf(`{"cpu":%d}`, i%100)),
	}
}

// postBody is what a client sends: no id and no timestamp, so the server
// assigns both, as for a real client.
type postBody struct {
	Tags  []string        `json:"tags"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

func benchPostEvent(client *http.Client, base string, i int) error {
	e := postBenchEvent(i)
	body, err := json.Marshal(postBody{Tags: e.Tags, Type: e.Type, Value: e.Value})
	if err != nil {
		return err
	}
	resp, err := client.Post(base+"/api/v1/events", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body) // read it all so the connection is reused
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /api/v1/events: %d %s", resp.StatusCode, data)
	}
	return nil
}

// benchOpenStore is a fresh store of its own for the store-alone run.
func benchOpenStore(b *testing.B) store.Store {
	st, err := store.Open(filepath.Join(b.TempDir(), "alone.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := st.Close(); err != nil {
			b.Errorf("close store: %v", err)
		}
	})
	return st
}

// benchOpenFloor is the floor's log, in a fresh file.
func benchOpenFloor(b *testing.B) *benchfloor.GroupCommit {
	g, err := benchfloor.OpenGroupCommit(filepath.Join(b.TempDir(), "floor.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := g.Close(); err != nil {
			b.Errorf("close floor: %v", err)
		}
	})
	return g
}

// benchFloorAppend does what the store must do at the least for one posted
// event: normalise it, encode it and put it with its index entries in a
// shared, fsynced commit. JSON stands in for the store's record encoding
// (same order of size, and the store is not asked for its private encoder).
func benchFloorAppend(g *benchfloor.GroupCommit, i int) error {
	e, err := store.Normalize(postBenchEvent(i), time.Now())
	if err != nil {
		return err
	}
	rec, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return g.Put(rec, benchfloor.IndexPrefixes(e)...)
}

// benchLoadFor runs op from clients goroutines for d and returns the completed
// operations per second and the CPU time this process spent per operation,
// in µs (see benchWindow).
func benchLoadFor(b *testing.B, clients int, d time.Duration, op func(i int) error) (perSec, cpuMicros float64) {
	b.Helper()
	f := benchWindow(b, clients, d, op)
	return f.perSec, f.cpuMicros
}

// loadFigs are the figures of one load window.
type loadFigs struct {
	perSec    float64 // completed operations per second
	p99ms     float64 // 99th percentile of one operation's latency, ms
	cpuMicros float64 // CPU time of the whole process per operation, µs
}

// benchWindow runs op from clients goroutines for d. The CPU time counts the
// whole process, clients included: on a machine with few cores they
// compete with the server for them. The first error fails the benchmark.
func benchWindow(b *testing.B, clients int, d time.Duration, op func(i int) error) loadFigs {
	b.Helper()
	cpu0 := paceSelfCPU(b)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	lat := make([][]time.Duration, clients) // one slice per client: no lock in the window
	start := time.Now()
	deadline := start.Add(d)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t0 := time.Now(); t0.Before(deadline); t0 = time.Now() {
				if err := op(int(next.Add(1))); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := paceSelfCPU(b) - cpu0
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	n := float64(done.Load())
	return loadFigs{
		perSec:    n / elapsed.Seconds(),
		p99ms:     float64(percentile(slices.Concat(lat...), 0.99)) / float64(time.Millisecond),
		cpuMicros: float64(cpu.Microseconds()) / max(n, 1),
	}
}
