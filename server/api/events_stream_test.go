package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/feed"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/stream"
)

// sseClient is an open stream read by testenv.ReadSSE in the background.
type sseClient struct {
	resp   *http.Response
	msgs   chan testenv.SSEMessage
	cancel context.CancelFunc
	done   chan error
}

// openStream opens the event stream at path (query included) and checks the
// SSE response headers and the first message (retry).
func (ts *eventsTestServer) openStream(t *testing.T, path string, hdr map[string]string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", ts.url+path, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open stream: %v", err)
	}
	c := &sseClient{resp: resp, msgs: make(chan testenv.SSEMessage, 1024), cancel: cancel, done: make(chan error, 1)}
	t.Cleanup(c.close)
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: status %d: %s", resp.StatusCode, data)
	}
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	go func() { c.done <- testenv.ReadSSE(resp.Body, c.msgs) }()
	// The handler writes retry only after subscribing, so once it is read,
	// every event appended from now on reaches this client.
	if m := c.next(t); m.Retry != "2000" || m.Data != "" || m.HasID {
		t.Fatalf("first message %+v, want retry: 2000 alone", m)
	}
	return c
}

// next is the next message; it fails the test after a few seconds or at the
// end of the stream.
func (c *sseClient) next(t *testing.T) testenv.SSEMessage {
	t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			t.Fatalf("stream ended: %v", <-c.done)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("no SSE message within 5s")
	}
	return testenv.SSEMessage{}
}

// nextEvent is the next message that carries an event, decoded; it fails
// on a comment-only message, so a stray heartbeat is noticed too.
func (c *sseClient) nextEvent(t *testing.T) wire.Event {
	t.Helper()
	m := c.next(t)
	var e wire.Event
	if err := json.Unmarshal([]byte(m.Data), &e); err != nil {
		t.Fatalf("message %+v: data: %v", m, err)
	}
	if !m.HasID || m.ID != strconv.FormatUint(e.ID, 10) || m.Event != e.Type {
		t.Fatalf("message %+v: id/event do not match the event", m)
	}
	return e
}

// close hangs up, as a browser tab closing would.
func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
}

// setHeartbeat shortens the heartbeat for one test. Call it before
// newTestServer, so the server (and its handlers) end before it is restored.
func setHeartbeat(t *testing.T, d time.Duration) {
	setVar(t, &stream.SSEHeartbeat, d)
}

// waitFor polls cond for a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStreamLive(t *testing.T) {
	ts := newTestServer(t)
	ts.appendEvents(t, wire.Event{Tags: []string{"a"}}) // before the stream: not sent without Last-Event-ID
	c := ts.openStream(t, "/api/v1/events/stream?tag=a&type=deploy", nil)
	if n := counterValue(t, ts.s.metrics.clients.WithLabelValues(sseEndpoint)); n != 1 {
		t.Errorf("clients gauge %v, want 1", n)
	}
	ts.appendEvents(t,
		wire.Event{Tags: []string{"b"}, Type: "deploy"},
		wire.Event{Tags: []string{"a"}},
	)
	stored := ts.appendEvents(t, wire.Event{Tags: []string{"a:x"}, Type: "deploy", Value: json.RawMessage(`{"line":"one\ntwo"}`)})[0]
	m := c.next(t)
	if m.ID != strconv.FormatUint(stored.ID, 10) || m.Event != "deploy" || len(m.Comments) != 0 {
		t.Fatalf("message %+v, want id %d event deploy", m, stored.ID)
	}
	want, _ := json.Marshal(stored)
	if m.Data != string(want) {
		t.Errorf("data %s, want %s", m.Data, want)
	}
	if !slices.Equal(stored.Tags, []string{"a", "a:x"}) {
		t.Errorf("tags %q", stored.Tags)
	}
	// The counter moves just after the write the client has already read.
	waitFor(t, "events_out to count the event", func() bool {
		return counterValue(t, ts.s.metrics.eventsOut.WithLabelValues(sseEndpoint)) == 1
	})
	c.close()
	waitFor(t, "the clients gauge to drop", func() bool {
		return counterValue(t, ts.s.metrics.clients.WithLabelValues(sseEndpoint)) == 0
	})
}

func TestStreamHeartbeat(t *testing.T) {
	setHeartbeat(t, 50*time.Millisecond)
	ts := newTestServer(t)
	c := ts.openStream(t, "/api/v1/events/stream", nil)
	for i := 0; i < 2; i++ {
		m := c.next(t)
		if !slices.Equal(m.Comments, []string{"keep-alive"}) || m.HasID || m.Data != "" {
			t.Fatalf("message %+v, want the keep-alive comment", m)
		}
	}
	// Events still get through between heartbeats.
	e := ts.appendEvents(t, wire.Event{Tags: []string{"a"}})[0]
	for {
		m := c.next(t)
		if len(m.Comments) > 0 {
			continue
		}
		if m.ID != strconv.FormatUint(e.ID, 10) {
			t.Fatalf("message %+v, want event %d", m, e.ID)
		}
		break
	}
}

func TestStreamResume(t *testing.T) {
	ts := newTestServer(t)
	for i := 1; i <= 6; i++ {
		tag := "a"
		if i%3 == 0 {
			tag = "b"
		}
		ts.appendEvents(t, wire.Event{Tags: []string{tag}}) // ids 1..6; 3 and 6 are "b"
	}
	cases := []struct {
		name string
		path string
		hdr  map[string]string
		want []uint64
	}{
		{"header", "/api/v1/events/stream?tag=a", map[string]string{"Last-Event-ID": "1"}, []uint64{2, 4, 5}},
		{"query", "/api/v1/events/stream?tag=a&last_event_id=4", nil, []uint64{5}},
		{"header wins over query", "/api/v1/events/stream?last_event_id=1", map[string]string{"Last-Event-ID": "4"}, []uint64{5, 6}},
		{"from the start", "/api/v1/events/stream?type=event", map[string]string{"Last-Event-ID": "0"}, []uint64{1, 2, 3, 4, 5, 6}},
		{"nothing missed", "/api/v1/events/stream", map[string]string{"Last-Event-ID": "6"}, nil},
		{"id from the future", "/api/v1/events/stream", map[string]string{"Last-Event-ID": "99"}, nil},
	}
	var clients []*sseClient
	for _, c := range cases {
		cl := ts.openStream(t, c.path, c.hdr)
		clients = append(clients, cl)
		for _, want := range c.want {
			if e := cl.nextEvent(t); e.ID != want {
				t.Fatalf("%s: event %d, want %d", c.name, e.ID, want)
			}
		}
	}
	// Then live, with no duplicate of the replay: the next message of every
	// client is event 7 (each filter lets it through).
	live := ts.appendEvents(t, wire.Event{Tags: []string{"a", "b"}})[0]
	for i, cl := range clients {
		if e := cl.nextEvent(t); e.ID != live.ID {
			t.Errorf("%s: live event %d, want %d", cases[i].name, e.ID, live.ID)
		}
	}
	resp, data := ts.do(t, "GET", "/api/v1/events/stream", map[string]string{"Last-Event-ID": "x"}, "")
	mustStatus(t, resp, data, 400)
}

// TestStreamResumeUnderLoad connects while events are being appended: the
// replay and the live part must join with no gap and no duplicate.
func TestStreamResumeUnderLoad(t *testing.T) {
	ts := newTestServer(t)
	ts.s.streamQueue = 4096 // this test is about joining, not about slow clients
	const total = 300
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		for i := 1; i <= total; i++ {
			if i == 50 {
				close(started)
			}
			if _, err := ts.s.store.Append(context.Background(), wire.Event{Tags: []string{"load"}}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	<-started
	var clients []*sseClient
	for i := 0; i < 3; i++ {
		clients = append(clients, ts.openStream(t, "/api/v1/events/stream?tag=load&last_event_id=0", nil))
	}
	if err := <-errc; err != nil {
		t.Fatalf("append: %v", err)
	}
	for i, cl := range clients {
		for want := uint64(1); want <= total; want++ {
			if e := cl.nextEvent(t); e.ID != want {
				t.Fatalf("client %d: event %d, want %d", i, e.ID, want)
			}
		}
	}
}

// appendOnLastID is a store in which an append lands between a stream's
// Subscribe and its LastID, the window in which an event is both in the
// history to replay and on the subscription.
type appendOnLastID struct {
	store.Store
	t    *testing.T
	once sync.Once
}

// LastID appends one event the first time, then answers as the store does.
func (s *appendOnLastID) LastID() uint64 {
	s.once.Do(func() {
		if _, err := s.Append(context.Background(), wire.Event{Tags: []string{"window"}}); err != nil {
			s.t.Errorf("append: %v", err)
		}
	})
	return s.Store.LastID()
}

// TestStreamJoinWindow checks that an event appended between Subscribe and
// LastID is sent exactly once when resuming, and not at all (it is history)
// on a live-only stream.
func TestStreamJoinWindow(t *testing.T) {
	for _, resume := range []bool{true, false} {
		ts := newTestServer(t)
		ts.appendEvents(t, wire.Event{Tags: []string{"before"}}) // id 1
		ts.s.store = &appendOnLastID{Store: ts.s.store, t: t}    // its LastID stores id 2
		hdr, want := map[string]string{}, []uint64{3}
		if resume {
			hdr["Last-Event-ID"], want = "0", []uint64{1, 2, 3}
		}
		c := ts.openStream(t, "/api/v1/events/stream", hdr)
		ts.appendEvents(t, wire.Event{Tags: []string{"after"}}) // id 3
		for _, id := range want {
			if e := c.nextEvent(t); e.ID != id {
				t.Fatalf("resume %v: event %d, want %d", resume, e.ID, id)
			}
		}
	}
}

// stallingWriter is a ResponseWriter whose client stops reading: the first
// event write blocks until release is closed, as a write to a full socket
// would.
type stallingWriter struct {
	header  http.Header
	stalled chan struct{} // closed when the first event write starts blocking
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

// Header, WriteHeader and Flush make stallingWriter a flushable
// ResponseWriter; it cannot set write deadlines, which the handler tolerates.
func (w *stallingWriter) Header() http.Header { return w.header }
func (w *stallingWriter) WriteHeader(int)     {}
func (w *stallingWriter) Flush()              {}

// Write records p, first blocking on the first event until release.
func (w *stallingWriter) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("id:")) {
		w.once.Do(func() { close(w.stalled) })
		<-w.release
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// String is everything written so far.
func (w *stallingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startStalled runs the stream handler for a client that stops reading at
// its first event (see stallingWriter), once the handler has subscribed. The
// channel is closed when the handler returns.
func startStalled(t *testing.T, ts *eventsTestServer, hdr map[string]string) (*stallingWriter, <-chan struct{}) {
	t.Helper()
	slow := &stallingWriter{header: http.Header{}, stalled: make(chan struct{}), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req := httptest.NewRequest("GET", "/api/v1/events/stream", nil).WithContext(ctx)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.s.handleEventStream(slow, req)
	}()
	waitFor(t, "the slow client to subscribe", func() bool { return strings.Contains(slow.String(), "retry:") })
	return slow, done
}

// dropped parses what a stalled client was sent after its handler ended:
// retry, events with ids following each other from the first, and the
// too-slow comment last. It returns the ids.
func (w *stallingWriter) dropped(t *testing.T) []uint64 {
	t.Helper()
	msgs := make(chan testenv.SSEMessage, 1024)
	if err := testenv.ReadSSE(strings.NewReader(w.String()), msgs); err != nil {
		t.Fatalf("parse the slow client's stream: %v", err)
	}
	var got []testenv.SSEMessage
	for m := range msgs {
		got = append(got, m)
	}
	if len(got) < 3 || got[0].Retry == "" {
		t.Fatalf("slow client got %+v, want retry, events, a comment", got)
	}
	end := got[len(got)-1]
	if len(end.Comments) != 1 || !strings.Contains(end.Comments[0], "too slow") || end.HasID {
		t.Fatalf("last message %+v, want the too-slow comment", end)
	}
	var out []uint64
	for _, m := range got[1 : len(got)-1] {
		id, err := strconv.ParseUint(m.ID, 10, 64)
		if err != nil || (len(out) > 0 && id != out[len(out)-1]+1) {
			t.Fatalf("slow client got %+v after events %v", m, out)
		}
		out = append(out, id)
	}
	return out
}

// TestStreamReplayStopsOnOverflow stalls a client during its replay: once
// its queue overflows the replay stops there (the client resumes from what
// it got) rather than sending the rest and live events first.
func TestStreamReplayStopsOnOverflow(t *testing.T) {
	ts := newTestServer(t)
	ts.appendEvents(t, wire.Event{Tags: []string{"a"}}, wire.Event{Tags: []string{"a"}}, wire.Event{Tags: []string{"a"}})
	slow, done := startStalled(t, ts, map[string]string{"Last-Event-ID": "0"})
	select {
	case <-slow.stalled: // replaying event 1
	case <-time.After(5 * time.Second):
		t.Fatal("the replay never wrote event 1")
	}
	more := make([]wire.Event, testStreamQueue+1) // fills the queue, then overflows it
	for i := range more {
		more[i] = wire.Event{Tags: []string{"a"}}
	}
	probe := ts.s.feed.SubscribeAll(len(more))
	defer probe.Close()
	stored := ts.appendEvents(t, more...)
	waitFed(t, probe, stored[len(stored)-1].ID)
	// The probe may hear of the last event just before the same Publish
	// ends the slow subscription: wait for the overflow itself.
	for deadline := time.Now().Add(5 * time.Second); ts.s.feed.DroppedAll() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slow client's queue never overflowed")
		}
	}
	close(slow.release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow client's stream did not end")
	}
	if got := slow.dropped(t); !slices.Equal(got, []uint64{1}) {
		t.Errorf("slow client got events %v, want only [1] before being dropped", got)
	}
	if n := counterValue(t, ts.s.metrics.dropped.WithLabelValues(sseEndpoint)); n != 1 {
		t.Errorf("dropped %v, want 1", n)
	}
}

// waitFed returns once probe, subscribed to the feed before id was stored,
// has received it: the feed hands an event to all its subscribers at once,
// so every other stream's queue has had its chance at id too.
func waitFed(t *testing.T, probe *hub.Subscription[*feed.Item], id uint64) {
	t.Helper()
	for {
		select {
		case it := <-probe.C():
			if it.Event.ID >= id {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the feed never passed on event %d", id)
		}
	}
}

// TestStreamSlowClientDropped stalls one client: its queue overflows, it is
// told so and ended, while a client that keeps up gets every event; the
// dropped client then resumes with Last-Event-ID and misses nothing.
func TestStreamSlowClientDropped(t *testing.T) {
	ts := newTestServer(t)
	fast := ts.openStream(t, "/api/v1/events/stream", nil)

	slow, handlerDone := startStalled(t, ts, nil)

	// Events go one at a time, each read by the fast client before the
	// next, so the fast client's queue never holds more than one.
	appendOne := func() uint64 {
		e := ts.appendEvents(t, wire.Event{Tags: []string{"x"}})[0]
		if got := fast.nextEvent(t); got.ID != e.ID {
			t.Fatalf("fast client: event %d, want %d", got.ID, e.ID)
		}
		return e.ID
	}
	appendOne()
	select {
	case <-slow.stalled: // the slow client holds event 1 and reads no more
	case <-time.After(5 * time.Second):
		t.Fatal("the slow client's handler never wrote event 1")
	}
	// testStreamQueue events fill its queue; one more overflows it.
	var last uint64
	for i := 0; i < testStreamQueue+1; i++ {
		last = appendOne()
	}
	close(slow.release)
	select {
	case <-handlerDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow client's stream did not end")
	}

	got := slow.dropped(t)
	seen := got[len(got)-1]
	if seen >= last {
		t.Fatalf("slow client got events up to %d of %d: it was not dropped at the overflow", seen, last)
	}
	if n := counterValue(t, ts.s.metrics.dropped.WithLabelValues(sseEndpoint)); n != 1 {
		t.Errorf("dropped %v, want 1", n)
	}

	// The fast client is still served.
	next := appendOne()
	// The dropped client resumes and gets exactly what it missed, then live.
	again := ts.openStream(t, "/api/v1/events/stream", map[string]string{"Last-Event-ID": strconv.FormatUint(seen, 10)})
	for want := seen + 1; want <= next; want++ {
		if e := again.nextEvent(t); e.ID != want {
			t.Fatalf("resumed client: event %d, want %d", e.ID, want)
		}
	}
	live := appendOne()
	if e := again.nextEvent(t); e.ID != live {
		t.Fatalf("resumed client: live event %d, want %d", e.ID, live)
	}
}
