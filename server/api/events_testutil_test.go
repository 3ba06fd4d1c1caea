package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/crowsnest-hq/crowsnest/internal/feed"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// testStreamQueue is the per-client queue of test servers: small, so the
// slow-client test overflows it with a handful of events.
const testStreamQueue = 8

// eventsTestServer is a Server with a real store in a temporary directory,
// serving only the /api/v1/events routes (through the same route table and
// metrics wrapper as the binary, without auth and limits, which these
// handlers do not depend on and which have their own tests). Engines are
// nil: none of these handlers touch them, and /metrics is not served.
type eventsTestServer struct {
	s   *Server
	url string
}

// newTestServer starts an eventsTestServer that ends with the test.
func newTestServer(t *testing.T) *eventsTestServer {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "events.db"), store.Options{
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	log := slog.New(slog.DiscardHandler)
	s := &Server{
		log:         log,
		store:       st,
		feed:        feed.New(log),
		streamQueue: testStreamQueue,
		metrics:     NewMetrics(),
	}
	s.streams = s.newStreams(nil)
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan struct{})
	go func() {
		s.feed.Run(ctx, st)
		close(fed)
	}()
	// Registered after the store's cleanup, so the feed stops before it.
	t.Cleanup(func() {
		cancel()
		<-fed
	})
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		if strings.HasPrefix(rt.Path, "/api/v1/events") {
			mux.Handle(rt.Method+" "+rt.Path, s.metrics.instrument(rt.Path, rt.handler))
		}
	}
	hs := httptest.NewServer(mux)
	// Registered after the store's cleanup, so it runs first: Close waits
	// for every handler (streams included) before the store closes.
	t.Cleanup(hs.Close)
	return &eventsTestServer{s: s, url: hs.URL}
}

// do sends one request and returns the response with its body read.
func (ts *eventsTestServer) do(t *testing.T, method, path string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, data
}

// mustStatus fails the test unless resp has the wanted status.
func mustStatus(t *testing.T, resp *http.Response, data []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, data)
	}
}

// appendEvents stores events straight into the store (fixtures) and returns
// them as stored.
func (ts *eventsTestServer) appendEvents(t *testing.T, events ...wire.Event) []wire.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := ts.s.store.Append(ctx, events...)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return out
}

// decodeEvents decodes a JSON list of events.
func decodeEvents(t *testing.T, data []byte) []wire.Event {
	t.Helper()
	var evs []wire.Event
	if err := json.Unmarshal(data, &evs); err != nil {
		t.Fatalf("decode events %s: %v", data, err)
	}
	return evs
}

// ids lists the ids of events, in order.
func ids(evs []wire.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// counterValue reads a counter or gauge of a metric vector.
func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	close(ch)
	total := 0.0
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatalf("read metric: %v", err)
		}
		switch {
		case pb.Counter != nil:
			total += pb.Counter.GetValue()
		case pb.Gauge != nil:
			total += pb.Gauge.GetValue()
		}
	}
	return total
}

// setVar sets a package variable for one test. The tests that use it are not
// parallel, and the server reads the variable after it is set.
func setVar[T any](t *testing.T, v *T, to T) {
	old := *v
	*v = to
	t.Cleanup(func() { *v = old })
}
