package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// queryFixtureEvents is the size of the store BenchmarkEventsQuery reads.
const queryFixtureEvents = 1_000_000

// queryDeepPage is the deep page: 300,000 events before it at per_page 30,
// so every filter below still has a full page there.
const queryDeepPage = 10_000

// BenchmarkEventsQuery measures GET /api/v1/events over HTTP on a store of
// 1,000,000 events, page 1 and page 10,000 (per_page 30) with a tag filter,
// a type filter and none. Each iteration asks for page 1 and then the deep
// page, so both are measured side by side under the same machine load, and
// the deep/page-1 ratio of the medians is reported with the latencies.
// Targets: p99 < 10 ms; the deep page no slower than 2× page 1.
//
// The store is filled once, in this function before its sub-benchmarks (a
// few minutes of index writes), and removed when they are done. Run with a
// fixed -benchtime such as 1000x: every iteration is one pair of requests,
// and the percentiles need a few hundred of them.
func BenchmarkEventsQuery(b *testing.B) {
	if testing.Short() {
		b.Skip("the 1,000,000-event fixture takes minutes; skipped under -short")
	}
	p := startInProcess(b, Config{StreamQueue: 1024})
	fillQueryFixture(b, p)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()

	for _, fl := range []struct{ name, query string }{
		{"none", ""},
		{"tag", "&tag=host:h1"},  // half of the events
		{"type", "&type=deploy"}, // a third of the events
	} {
		b.Run("filter="+fl.name, func(b *testing.B) {
			url := func(page int) string {
				return p.URL + "/api/v1/events?per_page=30&page=" + strconv.Itoa(page) + fl.query
			}
			// One warm-up pair, so the first sample does not pay for the
			// pages bbolt has not touched yet.
			for _, page := range []int{1, queryDeepPage} {
				if _, err := timedQuery(client, url(page)); err != nil {
					b.Fatal(err)
				}
			}
			var first, deep []time.Duration
			for b.Loop() {
				d, err := timedQuery(client, url(1))
				if err != nil {
					b.Fatal(err)
				}
				first = append(first, d)
				if d, err = timedQuery(client, url(queryDeepPage)); err != nil {
					b.Fatal(err)
				}
				deep = append(deep, d)
			}
			p50, p99 := latencyMs(first, 0.50), latencyMs(first, 0.99)
			dp50, dp99 := latencyMs(deep, 0.50), latencyMs(deep, 0.99)
			b.ReportMetric(p50, "page1-p50-ms")
			b.ReportMetric(p99, "page1-p99-ms")
			b.ReportMetric(dp50, "deep-p50-ms")
			b.ReportMetric(dp99, "deep-p99-ms")
			b.ReportMetric(dp50/p50, "ratio-deep/page1")
			b.ReportMetric(float64(len(first)), "samples")
		})
	}
}

// fillQueryFixture appends queryFixtureEvents events straight to the
// server's store, 10,000 per Append (one durable commit each; through POST
// a million events would take hours of fsyncs). Each event has a host tag
// (combined, so stored as "host" and "host:hN"), one of 50 "cN" tags and one
// of 3 types; none is of type container, so the /events/ws feed skips them
// without decoding.
func fillQueryFixture(b *testing.B, p *inProcess) {
	b.Helper()
	const perAppend = 10_000
	start := time.Now()
	ctx := context.Background()
	types := []string{"metrics", "deploy", "alert"}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]wire.Event, perAppend)
	for n := 0; n < queryFixtureEvents; n += perAppend {
		for i := range batch {
			k := n + i
			batch[i] = wire.Event{
				Tags:      []string{"host:h" + strconv.Itoa(k%2), "c" + strconv.Itoa(k%50)},
				Type:      types[k%3],
				Value:     json.RawMessage(`{"cpu":` + strconv.Itoa(k%100) + `}`),
				Timestamp: t0.Add(time.Duration(k) * time.Second),
			}
		}
		if _, err := p.store.Append(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	fmt.Fprintf(os.Stderr, "events query fixture: %d events in %v\n", queryFixtureEvents, time.Since(start).Round(time.Millisecond))
}

// timedQuery GETs url, reads the whole answer and checks it is a full page.
func timedQuery(client *http.Client, url string) (time.Duration, error) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, data)
	}
	var page []wire.Event
	if err := json.Unmarshal(data, &page); err != nil {
		return 0, fmt.Errorf("GET %s: %v", url, err)
	}
	if len(page) != 30 {
		return 0, fmt.Errorf("GET %s: %d events, want 30 (X-Total-Count %s)", url, len(page), resp.Header.Get("X-Total-Count"))
	}
	return elapsed, nil
}

// latencyMs is the p-quantile of d in milliseconds (d is sorted in place).
func latencyMs(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[int(float64(len(d)-1)*p)].Nanoseconds()) / 1e6
}
