package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Churn of CI size: the 400 containers created and removed 24 at a
// time, 800 events in a few seconds, concurrent enough that the engine
// delivers some out of timestamp order.
const (
	churnContainers = 400
	churnWorkers    = 24
)

// TestChurnStoresEveryEventOnce compares crowsnest with an independent
// subscriber to the engine, started before the churn: the store and a live
// /events/ws client that resumes by position hold every event exactly once,
// also when crowsnest is SIGKILLed and restarted, or cut off from the
// engine, in the middle of the churn.
func TestChurnStoresEveryEventOnce(t *testing.T) {
	testenv.ShareEngineMemory(t) // the restart and the cut resume from the engine's memory
	c := testenv.Engine(t)
	testenv.HelperImage(t)
	t.Cleanup(func() { testenv.RemoveAll(t, c) })
	limits := []string{"--request-rate", "0", "--max-streams", "0"}

	for _, tc := range []struct {
		name  string
		start func(t *testing.T, data string) (base string, midway func())
	}{
		{"steady", func(t *testing.T, data string) (string, func()) {
			p := startBinary(t, data, limits...)
			return p.URL, func() {}
		}},
		{"sigkill and restart", func(t *testing.T, data string) (string, func()) {
			p := startBinary(t, data, limits...)
			addr := p.URL[len("http://"):]
			return p.URL, func() {
				p.kill()
				startBinaryAt(t, addr, data, limits...)
			}
		}},
		{"engine cut", func(t *testing.T, data string) (string, func()) {
			proxy := testenv.NewProxy(t, c)
			p := startBinary(t, data, append(limits, "--host", "Localhost="+proxy.URL())...)
			// Cut briefly: the engine remembers 256 events, and the churn
			// (about 160 a second here, with other packages' tests on the
			// same engine besides) outruns that memory within about a
			// second, which is a real gap, tested as one elsewhere.
			return p.URL, func() {
				proxy.Cut()
				time.Sleep(250 * time.Millisecond)
				proxy.Restore()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label := faultLabel(t)
			base, midway := tc.start(t, t.TempDir())
			waitConnected(t, base)
			oracle := subscribeEngine(t, c, label)
			live := followEvents(t, base, label)

			took := testenv.Churn(t, c, churnContainers, churnWorkers, map[string]string{faultLabelKey: label}, midway)
			want := oracle.stop(t)
			if len(want) != 2*churnContainers {
				t.Fatalf("the independent subscriber saw %d events, want %d (a create and a destroy each)", len(want), 2*churnContainers)
			}
			t.Logf("independent subscriber: %d events in %v (%.0f/s), %d of them out of timestamp order",
				len(want), took.Round(time.Millisecond), float64(len(want))/took.Seconds(), outOfOrder(want))
			waitExactlyOnce(t, "store", want, func() []wire.ContainerEvent { return storedEvents(t, base, label) })
			waitExactlyOnce(t, "/events/ws", want, live.events)
			live.stop()
		})
	}
}

// engineSubscriber is the oracle: the engine's own event stream for one
// label, read by the test itself.
type engineSubscriber struct {
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	events []wire.ContainerEvent
}

func subscribeEngine(t *testing.T, c *client.Client, label string) *engineSubscriber {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &engineSubscriber{cancel: cancel, done: make(chan error, 1)}
	res := c.Events(ctx, client.EventsListOptions{
		Filters: make(client.Filters).Add("type", "container").Add("label", faultLabelKey+"="+label),
	})
	go func() {
		for {
			select {
			case m := <-res.Messages:
				s.mu.Lock()
				s.events = append(s.events, wire.ContainerEvent{Action: string(m.Action), TimeNano: m.TimeNano, Actor: wire.Actor{ID: m.Actor.ID}})
				s.mu.Unlock()
			case err := <-res.Err:
				s.done <- err
				return
			}
		}
	}()
	t.Cleanup(cancel)
	return s
}

// stop waits for the last events to arrive and returns all of them.
func (s *engineSubscriber) stop(t *testing.T) []wire.ContainerEvent {
	t.Helper()
	time.Sleep(500 * time.Millisecond)
	s.cancel()
	if err := <-s.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("independent subscriber failed: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

// outOfOrder counts the events older than one delivered before them.
func outOfOrder(evs []wire.ContainerEvent) int {
	n, newest := 0, int64(0)
	for _, ev := range evs {
		if ev.TimeNano < newest {
			n++
		}
		newest = max(newest, ev.TimeNano)
	}
	return n
}

// liveFollower is an /events/ws client that, like the UI, reconnects after
// a drop and resumes after the last storeId it got.
type liveFollower struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	got    []wire.ContainerEvent
}

func followEvents(t *testing.T, base, label string) *liveFollower {
	t.Helper()
	filters, err := json.Marshal(map[string][]string{"label": {faultLabelKey + "=" + label}, "event": {"create", "destroy"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &liveFollower{cancel: cancel, done: make(chan struct{})}
	ws := "ws" + base[len("http"):] + "/events/ws?filters=" + url.QueryEscape(string(filters))
	ready := make(chan struct{})
	var readyOnce sync.Once
	go func() {
		defer close(f.done)
		var last uint64
		for ctx.Err() == nil {
			target := ws
			if last > 0 {
				target += fmt.Sprintf("&after=%d", last)
			}
			conn, _, err := websocket.Dial(ctx, target, nil)
			if err != nil {
				time.Sleep(50 * time.Millisecond) // the server is restarting
				continue
			}
			readyOnce.Do(func() { close(ready) })
			last = f.read(ctx, conn, last)
		}
	}()
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		t.Fatal("/events/ws never accepted the follower")
	}
	t.Cleanup(f.stop)
	return f
}

// read keeps the events of one connection and returns the last storeId.
func (f *liveFollower) read(ctx context.Context, conn *websocket.Conn, last uint64) uint64 {
	defer conn.CloseNow()
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return last
		}
		var ev wire.ContainerEvent
		if json.Unmarshal(data, &ev) != nil || ev.StoreID == 0 {
			continue
		}
		last = ev.StoreID
		f.mu.Lock()
		f.got = append(f.got, ev)
		f.mu.Unlock()
	}
}

func (f *liveFollower) events() []wire.ContainerEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wire.ContainerEvent(nil), f.got...)
}

func (f *liveFollower) stop() {
	f.cancel()
	<-f.done
}

// storedEvents reads every stored container event of the label. Pages are
// newest first and the shared engine's other events keep arriving, so a page
// can repeat the end of the one before: an event counts once per store id.
func storedEvents(t *testing.T, base, label string) []wire.ContainerEvent {
	t.Helper()
	var out []wire.ContainerEvent
	read := map[uint64]bool{}
	for page := 1; ; page++ {
		resp, err := http.Get(fmt.Sprintf("%s/api/v1/events?type=container&per_page=1000&page=%d", base, page))
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("listing stored events: %d %s %v", resp.StatusCode, data, err)
		}
		var stored []wire.Event
		if err := json.Unmarshal(data, &stored); err != nil {
			t.Fatal(err)
		}
		for _, e := range stored {
			if read[e.ID] {
				continue
			}
			read[e.ID] = true
			var ev wire.ContainerEvent
			if err := json.Unmarshal(e.Value, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Actor.Attributes[faultLabelKey] == label {
				ev.StoreID = e.ID
				out = append(out, ev)
			}
		}
		if len(stored) < 1000 {
			return out
		}
	}
}

// waitExactlyOnce waits until read returns every wanted event, then fails on
// any missing, repeated or unexpected one.
func waitExactlyOnce(t *testing.T, where string, want []wire.ContainerEvent, read func() []wire.ContainerEvent) {
	t.Helper()
	wanted := map[string]bool{}
	for _, ev := range want {
		wanted[eventKey(ev)] = true
	}
	var got map[string][]wire.ContainerEvent
	deadline := time.Now().Add(60 * time.Second)
	for {
		got = map[string][]wire.ContainerEvent{}
		for _, ev := range read() {
			got[eventKey(ev)] = append(got[eventKey(ev)], ev)
		}
		missing := 0
		for k := range wanted {
			if len(got[k]) == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			if missing > 0 {
				t.Errorf("%s: %d of the engine's %d events missing", where, missing, len(wanted))
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k, evs := range got {
		switch {
		case !wanted[k]:
			t.Errorf("%s: event %s is not in the engine's stream: %+v", where, k, evs[0])
		case len(evs) > 1:
			var ids []uint64
			for _, ev := range evs {
				ids = append(ids, ev.StoreID)
			}
			t.Errorf("%s: event %s stored %d times, store ids %v", where, k, len(evs), ids)
		}
	}
}

// waitConnected waits until the server's Localhost engine is connected.
func waitConnected(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/api/v1/hosts")
		if err == nil {
			var hosts []wire.Host
			err = json.NewDecoder(resp.Body).Decode(&hosts)
			resp.Body.Close()
			if err == nil && len(hosts) > 0 && hosts[0].State == wire.HostConnected {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("Localhost never connected")
}
