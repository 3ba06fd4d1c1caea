package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestComputeRates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := Reading{Time: t0, NetRx: 1000, NetTx: 50, BlockRead: 0, BlockWrite: 4096}
	cur := Reading{Time: t0.Add(10 * time.Second), NetRx: 21000, NetTx: 10, BlockRead: 100, BlockWrite: 4096}
	got := ComputeRates(prev, cur)
	want := Rates{NetRx: 2000, NetTx: 0, BlockRead: 10, BlockWrite: 0} // NetTx went back: a restart
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if r := ComputeRates(cur, cur); r != (Rates{}) {
		t.Errorf("no time elapsed: got %+v, want zeros", r)
	}
}

func TestHealthOfListingStatus(t *testing.T) {
	for status, want := range map[string]string{
		"Up 2 minutes (healthy)":          "healthy",
		"Up 5 seconds (health: starting)": "starting",
		"Up 1 hour (unhealthy)":           "unhealthy",
		"Up 1 hour":                       "",
		"Exited (0) 2 minutes ago":        "",
	} {
		if got := healthOf(status); got != want {
			t.Errorf("%q: got %q, want %q", status, got, want)
		}
	}
}

// fakeEngine answers the few calls a sampler makes, over TCP, for one
// running container: its listing, its inspection, the engine's memory and
// one-shot stats that take a while, as a real engine's wait for its next
// collection does. It counts the stats requests in flight across every
// fake engine sharing inFlight.
type fakeEngine struct {
	frame          []byte
	inFlight, peak *atomic.Int64
	oneShots       *atomic.Int64 // one-shot stats requests answered
}

func (f fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, "/containers/json"):
		fmt.Fprint(w, `[{"Id":"c1","Names":["/c1"],"Image":"img","State":"running","Status":"Up 1 hour","HostConfig":{}}]`)
	case strings.HasSuffix(p, "/containers/c1/json"):
		fmt.Fprint(w, `{"Id":"c1","RestartCount":0,"State":{"Running":true,"Pid":1,"StartedAt":"2026-01-01T00:00:00Z"}}`)
	case strings.HasSuffix(p, "/containers/c1/stats") && r.URL.Query().Get("stream") == "true":
		f.stream(w, r)
	case strings.HasSuffix(p, "/containers/c1/stats"):
		f.oneShots.Add(1)
		n := f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		for peak := f.peak.Load(); n > peak && !f.peak.CompareAndSwap(peak, n); peak = f.peak.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		_, _ = w.Write(f.frame)
	case strings.HasSuffix(p, "/info"):
		fmt.Fprint(w, `{"MemTotal":1073741824}`)
	default:
		http.NotFound(w, r)
	}
}

// stream sends the frame every 200 ms, stamped with the time it is sent,
// until the client goes.
func (f fakeEngine) stream(w http.ResponseWriter, r *http.Request) {
	var frame map[string]any
	if err := json.Unmarshal(f.frame, &frame); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	enc := json.NewEncoder(w)
	for {
		frame["read"] = time.Now().UTC().Format(time.RFC3339Nano)
		if enc.Encode(frame) != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// newFakeEngines starts n fake engines counting into the given counters.
func newFakeEngines(t *testing.T, n int, inFlight, peak, oneShots *atomic.Int64) fakeEngines {
	t.Helper()
	frame, err := os.ReadFile("testdata/engine-frame-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	eng := fakeEngines{}
	for i := range n {
		srv := httptest.NewServer(fakeEngine{frame: frame, inFlight: inFlight, peak: peak, oneShots: oneShots})
		t.Cleanup(srv.Close)
		cli, err := client.New(client.WithHost("tcp://" + srv.Listener.Addr().String()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cli.Close() })
		eng[fmt.Sprintf("e%02d", i)] = cli
	}
	return eng
}

// startFake runs a collector over eng until the test ends, once every
// engine is listed.
func startFake(t *testing.T, eng fakeEngines) *Collector {
	t.Helper()
	c, err := New(eng, Options{Source: SourceEngine, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "every engine listed", func() bool { hs, _ := c.snapshot(); return len(hs) == len(eng) })
	return c
}

// fakeEngines is the collector's Engines over fake engines.
type fakeEngines map[string]*client.Client

func (f fakeEngines) Client(name string) (*client.Client, error) { return f[name], nil }

func (f fakeEngines) Hosts() []wire.Host {
	var hs []wire.Host
	for name := range f {
		hs = append(hs, wire.Host{Name: name, State: wire.HostConnected, Engine: wire.EngineDocker})
	}
	slices.SortFunc(hs, func(a, b wire.Host) int { return strings.Compare(a.Name, b.Name) })
	return hs
}

// TestSamplerBoundsRequestsAcrossEngines samples 50 engines of one
// running container each, read by one-shot requests: every engine's
// container is sampled, and the stats requests in flight at once, across
// all engines, never exceed Total (each engine alone would allow
// Concurrency of them).
func TestSamplerBoundsRequestsAcrossEngines(t *testing.T) {
	const engines, total = 50, 5
	var inFlight, peak, oneShots atomic.Int64
	c := startFake(t, newFakeEngines(t, engines, &inFlight, &peak, &oneShots))
	ctx := context.Background()
	smp, err := c.NewSampler(SamplerOptions{Every: 10 * time.Second, Concurrency: 4, Total: total})
	if err != nil {
		t.Fatal(err)
	}
	smp.Round(ctx, time.Now()) // the first readings, with nothing to compare yet
	time.Sleep(200 * time.Millisecond)
	r := smp.Round(ctx, time.Now())
	if got := len(r.Samples); got != engines {
		t.Errorf("%d samples in a round, want one per engine (%d)", got, engines)
	}
	if got := peak.Load(); got > total {
		t.Errorf("%d stats requests were in flight at once across the engines, want at most %d", got, total)
	}
}

// TestSamplerSharesTheLiveStream samples a container someone watches: the
// sampler takes the readings of the container's open stats stream instead
// of asking the engine again, so the engine serves one stream and no
// one-shot requests; an unwatched container is read by one-shots.
func TestSamplerSharesTheLiveStream(t *testing.T) {
	var inFlight, peak, oneShots atomic.Int64
	c := startFake(t, newFakeEngines(t, 1, &inFlight, &peak, &oneShots))
	smp, err := c.NewSampler(SamplerOptions{Every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	smp.Round(ctx, time.Now())
	time.Sleep(100 * time.Millisecond)
	if r := smp.Round(ctx, time.Now()); len(r.Samples) != 1 || oneShots.Load() != 2 {
		t.Fatalf("unwatched: %d samples after %d one-shot requests, want 1 after 2", len(r.Samples), oneShots.Load())
	}

	w, err := c.Subscribe(Query{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	waitFor(t, "the stream's first reading", func() bool { _, ok := c.liveReading(key{"e00", "c1"}, time.Now().Add(-time.Second)); return ok })
	before := oneShots.Load()
	for range 2 {
		time.Sleep(300 * time.Millisecond) // a newer frame than the last round's
		if r := smp.Round(ctx, time.Now()); len(r.Samples) != 1 {
			t.Fatalf("watched: %d samples in a round, want 1", len(r.Samples))
		}
	}
	if got := oneShots.Load() - before; got != 0 {
		t.Errorf("the sampler made %d one-shot requests for a container whose stream is open, want 0", got)
	}
	if got := c.Counters().EngineStreamsOpened; got != 1 {
		t.Errorf("%d streams opened, want 1", got)
	}
}
