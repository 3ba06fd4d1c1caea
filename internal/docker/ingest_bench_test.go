package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/benchfloor"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// ingestEvents is one round's burst: as many events as a busy engine emits
// in minutes, delivered at once.
const ingestEvents = 20_000

// churnEvent is the create or destroy of the i-th churned container, as an
// engine sends it.
func churnEvent(i int, start time.Time) wire.ContainerEvent {
	id := fmt.Sprintf("%064x", i/2)
	action := []string{"create", "destroy"}[i%2]
	t := start.Add(time.Duration(i) * time.Microsecond)
	return wire.ContainerEvent{
		Status: action, ID: id, From: "crowsnest-helper:latest", Type: "container", Action: action,
		Actor: wire.Actor{ID: id, Attributes: map[string]string{
			"image": "crowsnest-helper:latest", "name": fmt.Sprintf("churn-%d", i/2), "org.crowsnest.test.run": "bench",
		}},
		Time: t.Unix(), TimeNano: t.UnixNano(), Host: DefaultHostName,
	}
}

// BenchmarkIngest stores bursts of engine events as crowsnest does (the
// queue, identity dedupe, batches through the store with its indexes) and as
// the floor does (one goroutine committing the same records, batch by
// batch, in bbolt Updates), alternately, and reports the medians.
func BenchmarkIngest(b *testing.B) {
	events := make([]wire.ContainerEvent, ingestEvents)
	start := time.Now()
	for i := range events {
		events[i] = churnEvent(i, start)
	}
	var ours, floor []float64
	for b.Loop() {
		for range 3 {
			ours = append(ours, ingestOurs(b, events))
			floor = append(floor, ingestFloor(b, events))
		}
	}
	o, f := median(ours), median(floor)
	b.ReportMetric(o, "events/s")
	b.ReportMetric(f, "floor-events/s")
	b.ReportMetric(o/f, "ratio")

	// The engine's own emission rate under the proof test's churn, 100
	// containers created and removed 24 at a time: ingest must outrun it.
	c := testenv.Engine(b)
	took := testenv.Churn(b, c, 100, 24, nil, nil)
	engineRate := 200 / took.Seconds()
	b.ReportMetric(engineRate, "engine-churn-events/s")
	b.ReportMetric(o/engineRate, "x-engine-churn")
}

// ingestOurs runs one burst through an engine's writer into a new store and
// returns events/s.
func ingestOurs(b *testing.B, events []wire.ContainerEvent) float64 {
	st, err := store.Open(filepath.Join(b.TempDir(), "crowsnest.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	e := &engine{journal: StoreJournal(st), seen: newSeenSet(DefaultDedupeWindow), log: slog.New(slog.DiscardHandler), minB: time.Millisecond, maxB: time.Millisecond}
	// Room for the whole burst: the benchmark measures throughput, not
	// overflow.
	queue := newBacklog(len(events))
	t0 := time.Now()
	done := make(chan error, 1)
	go func() { done <- e.writeQueue(context.Background(), queue) }()
	for _, ev := range events {
		queue.push(ev)
	}
	queue.close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	if got := st.LastID(); got != uint64(len(events)) {
		b.Fatalf("stored %d events, want %d", got, len(events))
	}
	return float64(len(events)) / elapsed.Seconds()
}

// ingestFloor commits the same records and index entries from one goroutine
// taking whatever the queue holds, up to the same batch size, per bbolt
// Update.
func ingestFloor(b *testing.B, events []wire.ContainerEvent) float64 {
	log, err := benchfloor.OpenLog(filepath.Join(b.TempDir(), "floor.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	queue := make(chan wire.ContainerEvent, DefaultIngestQueue)
	t0 := time.Now()
	done := make(chan error, 1)
	go func() {
		recs := make([]benchfloor.Entry, 0, maxIngestBatch)
		for ev := range queue {
			recs = append(recs[:0], floorEntry(ev))
		drain:
			for len(recs) < maxIngestBatch {
				select {
				case ev, ok := <-queue:
					if !ok {
						break drain
					}
					recs = append(recs, floorEntry(ev))
				default:
					break drain
				}
			}
			if err := log.Append(recs); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for _, ev := range events {
		queue <- ev
	}
	close(queue)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return float64(len(events)) / time.Since(t0).Seconds()
}

// floorEntry is ev as the floor stores it: the event's JSON and the index
// entries the store keeps for it (tags expanded as the store expands them).
func floorEntry(ev wire.ContainerEvent) benchfloor.Entry {
	e, err := store.Normalize(ev.Record(), time.Now())
	if err != nil {
		panic(err) // an engine event always normalises
	}
	rec, err := json.Marshal(e)
	if err != nil {
		panic(err) // these shapes always encode
	}
	return benchfloor.Entry{Rec: rec, Index: benchfloor.IndexPrefixes(e)}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
