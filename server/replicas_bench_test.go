package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
	"github.com/crowsnest-hq/crowsnest/internal/natstest"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// The replica POST benchmark: 64 clients, three 1 s rounds in which the
// floor, the store alone and the HTTP path take turns.
const (
	replicaBenchClients = 64
	replicaBenchRounds  = 3
	replicaBenchWindow  = time.Second
	// replicaBenchFloorStream and its subject hold the floor's messages,
	// apart from crowsnest's stream so that no view applies them.
	replicaBenchFloorStream  = "BENCH_FLOOR"
	replicaBenchFloorSubject = "bench.floor"
)

// BenchmarkReplicaPost measures durable POST /api/v1/events on a crowsnest
// whose store is NATS JetStream (--store nats://…), with one server (R=1)
// and a three-node cluster with the stream on all three (R=3), from 64
// clients. In the same run it measures the store alone (natsstore.Append
// from as many goroutines, no HTTP) and the floor: as many goroutines
// publishing the same normalised events, JSON-encoded as the store encodes
// them, with a synchronous acknowledged js.Publish to a stream of the same
// configuration (copied from crowsnest's), without a view. The three sides
// take turns, each going first in turn; each crowsnest side runs alone on
// the stream (the other's replica is stopped) and starts its window once
// its view has caught up, so no view applies another side's events inside
// a window. Each figure is the median of its rounds; throughput, p99 of
// the per-request latency, and the CPU of the whole process (NATS servers
// included) per event.
func BenchmarkReplicaPost(b *testing.B) {
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("R=%d", replicas), func(b *testing.B) {
			urls := replicaBenchNATS(b, replicas)
			sides := []replicaSide{
				replicaFloorSide(b, urls, replicas),
				replicaStoreSide(b, urls, replicas),
				replicaHTTPSide(b, urls, replicas),
			}
			var figs [3]loadFigs // floor, store alone, HTTP path
			for b.Loop() {
				var rounds [3][]loadFigs
				for round := range replicaBenchRounds {
					for k := range sides {
						side := (round + k) % len(sides) // each side goes first in turn
						op, stop := sides[side](b)
						rounds[side] = append(rounds[side], benchWindow(b, replicaBenchClients, replicaBenchWindow, op))
						stop()
					}
				}
				for side := range sides {
					figs[side] = medianLoad(rounds[side])
				}
			}
			floor, st, web := figs[0], figs[1], figs[2]
			b.ReportMetric(web.perSec, "events/s")
			b.ReportMetric(st.perSec, "store-events/s")
			b.ReportMetric(floor.perSec, "floor-events/s")
			b.ReportMetric(web.perSec/floor.perSec, "ratio")
			b.ReportMetric(st.perSec/floor.perSec, "store-ratio")
			b.ReportMetric(web.p99ms, "p99-ms")
			b.ReportMetric(st.p99ms, "store-p99-ms")
			b.ReportMetric(floor.p99ms, "floor-p99-ms")
			b.ReportMetric(web.cpuMicros, "cpu-us/event")
			b.ReportMetric(st.cpuMicros, "store-cpu-us/event")
			b.ReportMetric(floor.cpuMicros, "floor-cpu-us/event")
		})
	}
}

// replicaSide readies one side for a window and returns its operation and
// what ends the side after the window.
type replicaSide func(b *testing.B) (op func(i int) error, stop func())

// replicaBenchNATS starts one JetStream server or a cluster of replicas
// servers and returns their URLs as --store takes them.
func replicaBenchNATS(b *testing.B, replicas int) string {
	if replicas == 1 {
		return natstest.Single(b)
	}
	return natstest.NewCluster(b, replicas).URLs()
}

// replicaFloorSide creates crowsnest's stream with replicas (by opening a
// store once) and the floor's stream with its configuration, and publishes to the
// latter on one connection shared by the clients, as the store shares its
// own.
func replicaFloorSide(b *testing.B, urls string, replicas int) replicaSide {
	ctx := context.Background()
	st := replicaOpenStore(b, urls, filepath.Join(b.TempDir(), "setup.db"), replicas)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	nc, err := nats.Connect(urls)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	events, err := js.Stream(ctx, natsstore.StreamName)
	if err != nil {
		b.Fatal(err)
	}
	cfg := events.CachedInfo().Config
	cfg.Name, cfg.Subjects, cfg.Description = replicaBenchFloorStream, []string{replicaBenchFloorSubject}, "crowsnest benchmark floor"
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	return func(*testing.B) (func(int) error, func()) {
		return func(i int) error { return replicaFloorPublish(ctx, js, i) }, func() {}
	}
}

// replicaFloorMessage has the fields and JSON names of the store's stream
// messages, so the floor publishes what the store publishes.
type replicaFloorMessage struct {
	Type      string          `json:"type"`
	Tags      []string        `json:"tags"`
	Timestamp time.Time       `json:"timestamp"`
	Value     json.RawMessage `json:"value"`
}

// replicaFloorPublish does the least a durable append on JetStream takes:
// normalise the event, encode it, publish it and wait for the ack.
func replicaFloorPublish(ctx context.Context, js jetstream.JetStream, i int) error {
	e, err := store.Normalize(postBenchEvent(i), time.Now())
	if err != nil {
		return err
	}
	body, err := json.Marshal(replicaFloorMessage{Type: e.Type, Tags: e.Tags, Timestamp: e.Timestamp, Value: e.Value})
	if err != nil {
		return err
	}
	_, err = js.Publish(ctx, replicaBenchFloorSubject, body)
	return err
}

// replicaStoreSide opens a replica of the store (its view kept across
// rounds) for each window, once it has caught up, and closes it after.
func replicaStoreSide(b *testing.B, urls string, replicas int) replicaSide {
	view := filepath.Join(b.TempDir(), "alone.db")
	ctx := context.Background()
	return func(b *testing.B) (func(int) error, func()) {
		st := replicaOpenStore(b, urls, view, replicas)
		op := func(i int) error {
			_, err := st.Append(ctx, postBenchEvent(i))
			return err
		}
		return op, func() {
			if err := st.Close(); err != nil {
				b.Error(err)
			}
		}
	}
}

// replicaOpenStore opens a store and waits until its view holds the whole
// stream and it takes writes.
func replicaOpenStore(b *testing.B, urls, view string, replicas int) *natsstore.Store {
	list, err := natsstore.ParseURLs(urls)
	if err != nil {
		b.Fatal(err)
	}
	st, err := natsstore.Open(natsstore.Options{URLs: list, ViewPath: view, Replicas: replicas, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	replicaWait(b, "the store to take writes", func() bool { return st.Health() == nil })
	return st
}

// replicaHTTPSide runs crowsnest (its data directory kept across rounds)
// for each window, once it answers /healthz with 200 and lists the newest
// event of the stream, and stops it after.
func replicaHTTPSide(b *testing.B, urls string, replicas int) replicaSide {
	addr, data := freeAddr(b), b.TempDir()
	args := []string{"--store", urls, "--nats-replicas", strconv.Itoa(replicas), "--host", noEngine, "--request-rate", "0"}
	latest := replicaStreamLast(b, urls)
	return func(b *testing.B) (func(int) error, func()) {
		s := startServerAt(b, addr, data, args...)
		replicaWait(b, "crowsnest to catch up with the stream", func() bool {
			return replicaNewestID(s.URL) >= latest()
		})
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: replicaBenchClients, DisableCompression: true}}
		op := func(i int) error { return benchPostEvent(client, s.URL, i) }
		return op, func() {
			client.CloseIdleConnections()
			s.Stop()
		}
	}
}

// replicaStreamLast returns what reads the last sequence of crowsnest's
// stream, the id of the newest event.
func replicaStreamLast(b *testing.B, urls string) func() uint64 {
	nc, err := nats.Connect(urls)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return func() uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, natsstore.StreamName)
		if err != nil {
			b.Fatal(err)
		}
		return s.CachedInfo().State.LastSeq
	}
}

// replicaNewestID is the id of the newest event crowsnest lists, 0 while it
// does not answer 200.
func replicaNewestID(base string) uint64 {
	resp, err := http.Get(base + "/api/v1/events")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var page []wire.Event
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&page) != nil || len(page) == 0 {
		return 0
	}
	return page[0].ID
}

// replicaWait polls cond until it holds; generous, for a loaded machine.
func replicaWait(b *testing.B, what string, cond func() bool) {
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// medianLoad is the median of each figure over the rounds.
func medianLoad(rs []loadFigs) loadFigs {
	pick := func(f func(loadFigs) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	return loadFigs{
		perSec:    pick(func(r loadFigs) float64 { return r.perSec }),
		p99ms:     pick(func(r loadFigs) float64 { return r.p99ms }),
		cpuMicros: pick(func(r loadFigs) float64 { return r.cpuMicros }),
	}
}
