package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// postEvent stores one event through the API of the server at base.
func postEvent(t *testing.T, base, body string) wire.Event {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/events", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ev wire.Event
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("post: status %d, %v", resp.StatusCode, err)
	}
	return ev
}

// TestEventStreamResumesAcrossARestart reconnects with Last-Event-ID to a
// new server process on the same store: the missed events come once, in
// order, then live ones.
func TestEventStreamResumesAcrossARestart(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	data := t.TempDir()
	noEngine := []string{"--host", "Localhost=unix:///nonexistent/docker.sock"}
	first := startServerIn(t, data, noEngine...)
	seen := postEvent(t, first.URL, `{"tags":["resume"],"value":1}`)
	missed := []wire.Event{postEvent(t, first.URL, `{"tags":["resume"],"value":2}`)}
	postEvent(t, first.URL, `{"tags":["other"],"value":0}`)
	first.Stop()

	second := startServerIn(t, data, noEngine...)
	missed = append(missed, postEvent(t, second.URL, `{"tags":["resume"],"value":3}`))
	next := openEventStream(t, second.URL+"/api/v1/events/stream?tag=resume", strconv.FormatUint(seen.ID, 10))
	for _, want := range missed {
		if got := next(); got.ID != want.ID || string(got.Value) != string(want.Value) {
			t.Fatalf("replayed %d (%s), want %d (%s)", got.ID, got.Value, want.ID, want.Value)
		}
	}
	live := postEvent(t, second.URL, fmt.Sprintf(`{"tags":["resume"],"value":%d}`, 4))
	if got := next(); got.ID != live.ID {
		t.Fatalf("live event %d, want %d", got.ID, live.ID)
	}
}

// openEventStream opens the event stream at u after lastID and returns a
// function that reads its next event (skipping the retry message and
// heartbeats); it fails the test after a few seconds without one.
func openEventStream(t *testing.T, u, lastID string) func() wire.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Last-Event-ID", lastID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: status %d", resp.StatusCode)
	}
	msgs := make(chan testenv.SSEMessage, 1024)
	go testenv.ReadSSE(resp.Body, msgs)
	return func() wire.Event {
		t.Helper()
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatal("stream ended")
				}
				if m.Data == "" {
					continue
				}
				var e wire.Event
				if err := json.Unmarshal([]byte(m.Data), &e); err != nil {
					t.Fatalf("message %+v: %v", m, err)
				}
				return e
			case <-time.After(5 * time.Second):
				t.Fatal("no event within 5s")
			}
		}
	}
}
