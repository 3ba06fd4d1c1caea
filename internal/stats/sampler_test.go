package stats

import (
	"context"
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
}

func (f fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, "/containers/json"):
		fmt.Fprint(w, `[{"Id":"c1","Names":["/c1"],"Image":"img","State":"running","Status":"Up 1 hour","HostConfig":{}}]`)
	case strings.HasSuffix(p, "/containers/c1/json"):
		fmt.Fprint(w, `{"Id":"c1","RestartCount":0,"State":{"Running":true,"Pid":1,"StartedAt":"2026-01-01T00:00:00Z"}}`)
	case strings.HasSuffix(p, "/containers/c1/stats"):
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
	frame, err := os.ReadFile("testdata/engine-frame-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var inFlight, peak atomic.Int64
	eng := fakeEngines{}
	for i := range engines {
		srv := httptest.NewServer(fakeEngine{frame: frame, inFlight: &inFlight, peak: &peak})
		t.Cleanup(srv.Close)
		cli, err := client.New(client.WithHost("tcp://" + srv.Listener.Addr().String()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cli.Close() })
		eng[fmt.Sprintf("e%02d", i)] = cli
	}
	c, err := New(eng, Options{Source: SourceEngine, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "every engine listed", func() bool { hs, _ := c.snapshot(); return len(hs) == engines })
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
