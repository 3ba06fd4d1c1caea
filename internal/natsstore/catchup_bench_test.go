package natsstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
	"github.com/crowsnest-hq/crowsnest/internal/natstest"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// The catch-up benchmark: a stream of catchUpEvents events, caught up
// catchUpRounds times by a fresh view, taking turns with the read floor.
const (
	catchUpEvents = 50_000
	catchUpRounds = 3
)

// BenchmarkViewCatchUp measures how fast a replica joining an existing
// stream builds its local view: a store opened on a stream of 50,000
// events with an empty view.db, from Open until Sync returns (connecting,
// reading the stream and applying it to the view). The floor is the read
// alone: an ordered consumer receiving the same 50,000 messages with
// nothing applied, which tells what the view costs on top. The two take
// turns; the figures are medians.
func BenchmarkViewCatchUp(b *testing.B) {
	url := natstest.Single(b)
	catchUpFill(b, url)
	var views, reads []float64
	for b.Loop() {
		for round := range catchUpRounds {
			views = append(views, catchUpView(b, url, filepath.Join(b.TempDir(), fmt.Sprintf("view-%d.db", round))))
			reads = append(reads, catchUpRead(b, url))
		}
	}
	view, read := median(views), median(reads)
	b.ReportMetric(view, "events/s")
	b.ReportMetric(read, "read-events/s")
	b.ReportMetric(view/read, "ratio")
}

// catchUpFill stores catchUpEvents events through a store, in atomic
// batches of the most it takes at once.
func catchUpFill(b *testing.B, url string) {
	st := catchUpOpen(b, url, filepath.Join(b.TempDir(), "writer.db"))
	defer func() {
		if err := st.Close(); err != nil {
			b.Error(err)
		}
	}()
	batch := make([]wire.Event, natsstore.MaxAtomicEvents)
	for done := 0; done < catchUpEvents; done += len(batch) {
		for i := range batch {
			n := done + i
			batch[i] = wire.Event{
				Tags:  []string{"bench", fmt.Sprintf("host:h%d", n%4)},
				Type:  "metrics",
				Value: json.RawMessage(fmt.Sprintf(`{"cpu":%d}`, n%100)),
			}
		}
		if _, err := st.Append(context.Background(), batch...); err != nil {
			b.Fatal(err)
		}
	}
}

// catchUpView opens a store on view (a new file) and returns the events
// per second it took to hold the whole stream.
func catchUpView(b *testing.B, url, view string) float64 {
	start := time.Now()
	st := catchUpOpen(b, url, view)
	elapsed := time.Since(start)
	if got := st.LastID(); got != catchUpEvents {
		b.Fatalf("the view holds events up to %d, want %d", got, catchUpEvents)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return catchUpEvents / elapsed.Seconds()
}

// catchUpOpen opens a store on view and waits until it holds the stream.
func catchUpOpen(b *testing.B, url, view string) *natsstore.Store {
	st, err := natsstore.Open(natsstore.Options{URLs: []string{url}, ViewPath: view, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := st.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	return st
}

// catchUpRead connects and reads the whole stream with an ordered
// consumer, as the store does, applying nothing; it returns events/s.
func catchUpRead(b *testing.B, url string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, natsstore.StreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	all := make(chan struct{})
	var n atomic.Int64
	cc, err := cons.Consume(func(jetstream.Msg) {
		if n.Add(1) == catchUpEvents {
			close(all)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	select {
	case <-all:
	case <-ctx.Done():
		b.Fatalf("read %d of %d events: %v", n.Load(), catchUpEvents, ctx.Err())
	}
	return catchUpEvents / time.Since(start).Seconds()
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}
