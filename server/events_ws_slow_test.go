package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// syntheticEvent is a container event as an engine would send it, padded
// so that a few thousand of them fill socket buffers.
func syntheticEvent(i int, now time.Time, pad string) wire.ContainerEvent {
	id := fmt.Sprintf("%064d", i)
	action := []string{"start", "stop"}[i%2]
	t := now.Add(time.Duration(i) * time.Microsecond)
	return wire.ContainerEvent{
		Status: action, ID: id, From: "crowsnest-helper:latest", Type: "container", Action: action,
		Actor: wire.Actor{ID: id, Attributes: map[string]string{"name": fmt.Sprintf("synthetic-%d", i), "image": "crowsnest-helper:latest", "pad": pad}},
		Time:  t.Unix(), TimeNano: t.UnixNano(), Host: docker.DefaultHostName,
	}
}

func TestEventsWSDropsAClientThatNeverReads(t *testing.T) {
	p := startInProcess(t, Config{StreamQueue: 256})
	reader := dialWS(t, p.WS("/events/ws?since=1h"), nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stuck, _, err := websocket.Dial(ctx, p.WS("/events/ws?since=1h"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.CloseNow()
	// Wait until both are subscribed, so both are owed every event.
	for p.feed.Clients() < 2 {
		time.Sleep(10 * time.Millisecond)
	}

	const n = 3000
	pad := strings.Repeat("x", 4096)
	now := time.Now()
	// Appended in bursts, as an engine's events arrive under load.
	var burst []wire.Event
	for i := range n {
		burst = append(burst, syntheticEvent(i, now, pad).Record())
		if len(burst) == 100 || i == n-1 {
			if _, err := p.store.Append(context.Background(), burst...); err != nil {
				t.Fatal(err)
			}
			burst = burst[:0]
		}
	}

	// The reader gets every event, in order, although the other never reads.
	for i := range n {
		select {
		case f := <-reader.frames:
			want := fmt.Sprintf(`"synthetic-%d"`, i)
			if !strings.Contains(string(f), want) {
				t.Fatalf("event %d: got %.120s…", i, f)
			}
		case err := <-reader.closed:
			t.Fatalf("reader closed after %d events: %v", i, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("reader stalled after %d events", i)
		}
	}

	// The stuck client was cut off with a reason that says how to resume.
	if got := p.feed.Dropped(); got != 1 {
		t.Errorf("dropped clients = %d, want 1", got)
	}
	// Reading now drains what the kernel buffered, then the close frame.
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	var got []wire.ContainerEvent
	var reason string
	for {
		_, data, err := stuck.Read(rctx)
		if err == nil {
			var ev wire.ContainerEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				t.Fatal(err)
			}
			got = append(got, ev)
			continue
		}
		if code := websocket.CloseStatus(err); code != websocket.StatusTryAgainLater {
			t.Fatalf("stuck client ended with %v, want close 1013", err)
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "too slow") || !strings.Contains(ce.Reason, "since=") {
			t.Errorf("close reason %q does not say too slow and where to resume", ce.Reason)
		}
		reason = ce.Reason
		break
	}
	if len(got) == 0 || len(got) == n {
		t.Fatalf("stuck client read %d events before its close, want some but not all %d", len(got), n)
	}
	last := got[len(got)-1].StoreID
	if want := fmt.Sprintf("after=%d ", last); !strings.Contains(reason, want) {
		t.Fatalf("close reason %q does not give %q, the last event it was sent", reason, want)
	}

	// Resuming by position delivers exactly the rest: no gap, no repeat.
	resumed := dialWS(t, p.WS(fmt.Sprintf("/events/ws?after=%d", last)), nil)
	for i := len(got); i < n; i++ {
		select {
		case f := <-resumed.frames:
			want := fmt.Sprintf(`"synthetic-%d"`, i)
			if !strings.Contains(string(f), want) {
				t.Fatalf("resumed event %d: got %.120s…", i, f)
			}
		case err := <-resumed.closed:
			t.Fatalf("resumed client closed at event %d: %v", i, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("resumed client stalled at event %d", i)
		}
	}
}
