package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

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
	ts := &eventsTestServer{url: second.URL}
	stream := ts.openStream(t, "/api/v1/events/stream?tag=resume", map[string]string{"Last-Event-ID": strconv.FormatUint(seen.ID, 10)})
	for _, want := range missed {
		if got := stream.nextEvent(t); got.ID != want.ID || string(got.Value) != string(want.Value) {
			t.Fatalf("replayed %d (%s), want %d (%s)", got.ID, got.Value, want.ID, want.Value)
		}
	}
	live := postEvent(t, second.URL, fmt.Sprintf(`{"tags":["resume"],"value":%d}`, 4))
	if got := stream.nextEvent(t); got.ID != live.ID {
		t.Fatalf("live event %d, want %d", got.ID, live.ID)
	}
}
