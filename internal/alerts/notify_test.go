package alerts

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// outcomes collects delivery reports.
type outcomes struct {
	mu  sync.Mutex
	got []wire.AlertDelivery
	ch  chan wire.AlertDelivery
}

func newOutcomes() *outcomes { return &outcomes{ch: make(chan wire.AlertDelivery, 100)} }

func (o *outcomes) report(d wire.AlertDelivery) { o.ch <- d }

func (o *outcomes) next(t *testing.T, within time.Duration) wire.AlertDelivery {
	t.Helper()
	select {
	case d := <-o.ch:
		return d
	case <-time.After(within):
		t.Fatal("no delivery outcome in time")
		return wire.AlertDelivery{}
	}
}

func mustTarget(t *testing.T, u string) target {
	t.Helper()
	tg, err := parseTarget(u)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestWebhookGetsTheDocumentedBody(t *testing.T) {
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		bodies <- b
	}))
	defer srv.Close()
	out := newOutcomes()
	n := newNotifier(DeliveryOptions{}, slog.Default(), out.report)
	defer n.close()
	ev := ctrEvent("die", t0, "exitCode", "3")
	n.enqueue([]target{mustTarget(t, srv.URL+"/hook")}, wire.Alert{Rule: "crash", RuleID: 7, Host: "h", Kind: "event",
		Container: wire.AlertContainer{ID: "c1", Name: "web", Image: "app:1"}, Message: "crash: web die", Time: t0, Event: &ev}, 42)
	d := out.next(t, 5*time.Second)
	if !d.OK || d.Attempts != 1 || d.AlertID != 42 {
		t.Fatalf("outcome: %+v", d)
	}
	var body map[string]any
	if err := json.Unmarshal(<-bodies, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rule", "host", "container", "kind", "message", "time", "event"} {
		if _, ok := body[k]; !ok {
			t.Errorf("body lacks %q: %v", k, body)
		}
	}
	if c := body["container"].(map[string]any); c["id"] != "c1" || c["name"] != "web" || c["image"] != "app:1" {
		t.Errorf("container: %v", c)
	}
}

func TestDeliveryRetriesThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	out := newOutcomes()
	n := newNotifier(DeliveryOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}, slog.Default(), out.report)
	defer n.close()
	n.enqueue([]target{mustTarget(t, srv.URL)}, wire.Alert{Rule: "r"}, 1)
	if d := out.next(t, 5*time.Second); !d.OK || d.Attempts != 3 {
		t.Fatalf("outcome: %+v, want OK after 3 attempts", d)
	}
}

func TestDeadTargetIsReportedAndDelaysNoOther(t *testing.T) {
	hang := make(chan struct{})
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer dead.Close()
	defer close(hang)
	got := make(chan time.Time, 10)
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- time.Now() }))
	defer live.Close()

	out := newOutcomes()
	opts := DeliveryOptions{Timeout: 300 * time.Millisecond, Attempts: 2, MinBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	n := newNotifier(opts, slog.Default(), out.report)
	defer n.close()
	targets := []target{mustTarget(t, dead.URL+"/?token=secret"), mustTarget(t, live.URL)}
	start := time.Now()
	for range 3 {
		n.enqueue(targets, wire.Alert{Rule: "r"}, 1)
	}
	for i := range 3 {
		select {
		case at := <-got:
			if at.Sub(start) > 200*time.Millisecond {
				t.Fatalf("live target got alert %d after %v: the dead one delayed it", i, at.Sub(start))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("live target got nothing")
		}
	}
	var failed int
	for range 6 {
		d := out.next(t, 10*time.Second)
		if d.OK {
			continue
		}
		failed++
		if d.Attempts != 2 || d.Error == "" || d.Target != dead.URL+"/***" {
			t.Fatalf("failed outcome: %+v", d)
		}
	}
	if failed != 3 {
		t.Fatalf("%d failed deliveries reported, want 3", failed)
	}
}

func TestFullQueueIsReportedNotBlocking(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	out := newOutcomes()
	n := newNotifier(DeliveryOptions{Queue: 1, Timeout: time.Minute}, slog.Default(), out.report)
	defer n.close()
	tg := []target{mustTarget(t, srv.URL)}
	done := make(chan struct{})
	go func() {
		for range 5 { // one in flight, one queued, three refused
			n.enqueue(tg, wire.Alert{Rule: "r"}, 1)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("enqueue blocked on a stuck target")
	}
	for range 3 {
		if d := out.next(t, time.Second); d.OK || d.Error == "" {
			t.Fatalf("refused delivery: %+v", d)
		}
	}
}
