package main

// Engine faults, on the real engine: crowsnest reaches it through a
// testenv.Proxy that cuts, stalls or delays the connection, while the tests
// watch what clients of the sockets and the REST API see.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// faultLabelKey marks the containers of one fault test, so its events can
// be told from those of tests running beside it on the same engine.
const faultLabelKey = "org.crowsnest.test.fault"

// faultLabel is a label value unique to the running test.
func faultLabel(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

// allContainerActions are the actions an /events/ws filter may name (see
// internal/filter): naming them all makes the socket carry every event the
// engine records, not only start and stop, so the two records compare.
var allContainerActions = []string{
	"archive-path", "attach", "checkpoint", "commit", "copy", "create",
	"destroy", "detach", "die", "exec_create", "exec_detach", "exec_die",
	"exec_start", "export", "extract-to-dir", "health_status", "kill", "oom",
	"pause", "prune", "rename", "resize", "restart", "start", "stop", "top",
	"unpause", "update",
}

// faultGet fetches path and fails the test unless the answer is 200 and
// comes within limit: the point of these checks is that nothing waits on a
// misbehaving engine.
func faultGet(t *testing.T, s *liveServer, path string, limit time.Duration) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: no answer within %v: %v", path, limit, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body after %v: %v", path, time.Since(start), err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return body
}

// faultHost is the named engine as GET /api/v1/hosts reports it.
func faultHost(t *testing.T, s *liveServer, name string) wire.Host {
	t.Helper()
	var hosts []wire.Host
	if err := json.Unmarshal(faultGet(t, s, "/api/v1/hosts", 5*time.Second), &hosts); err != nil {
		t.Fatalf("/api/v1/hosts: %v", err)
	}
	for _, h := range hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("/api/v1/hosts has no %s: %+v", name, hosts)
	return wire.Host{}
}

// waitHost polls /api/v1/hosts until the named engine is in one of states.
func waitHost(t *testing.T, s *liveServer, name string, d time.Duration, states ...string) wire.Host {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		h := faultHost(t, s, name)
		if slices.Contains(states, h.State) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s is %s (%s) after %v, want %v", name, h.State, h.Error, d, states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// engineClock is the engine's own time, the clock its event record uses.
func engineClock(t *testing.T, c *client.Client) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatalf("engine info: %v", err)
	}
	now, err := time.Parse(time.RFC3339Nano, info.Info.SystemTime)
	if err != nil {
		t.Fatalf("engine clock %q: %v", info.Info.SystemTime, err)
	}
	return now
}

// unixNano formats t as the engine's and crowsnest's "seconds.nanoseconds".
func unixNano(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// eventKey identifies one engine event: an action of one container at one
// nanosecond.
func eventKey(ev wire.ContainerEvent) string {
	return fmt.Sprintf("%d %.12s %s", ev.TimeNano, ev.Actor.ID, ev.Action)
}

// engineRecord is what the engine itself recorded for containers labelled
// faultLabelKey=label between since and until.
func engineRecord(t *testing.T, c *client.Client, label string, since, until time.Time) []wire.ContainerEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := c.Events(ctx, client.EventsListOptions{
		Since:   unixNano(since),
		Until:   unixNano(until),
		Filters: make(client.Filters).Add("type", "container").Add("label", faultLabelKey+"="+label),
	})
	var out []wire.ContainerEvent
	for {
		select {
		case m := <-res.Messages:
			nano := m.TimeNano
			if nano == 0 {
				nano = m.Time * int64(time.Second)
			}
			out = append(out, wire.ContainerEvent{Action: string(m.Action), TimeNano: nano, Actor: wire.Actor{ID: m.Actor.ID}})
		case err := <-res.Err:
			if err != io.EOF {
				t.Fatalf("engine events: %v", err)
			}
			return out
		}
	}
}

// TestFaultsEventsExactlyOnceAcrossACut cuts the engine while containers
// start and stop before, during and after the cut: every /events/ws client
// gets every event the engine recorded in the window exactly once.
func TestFaultsEventsExactlyOnceAcrossACut(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	c := testenv.Engine(t)
	testenv.HelperImage(t) // built and loaded before the window opens
	proxy := testenv.NewProxy(t, c)
	s := startServer(t, "--host", "Localhost="+proxy.URL(), "--max-streams", "0", "--request-rate", "0")
	waitHost(t, s, "Localhost", 20*time.Second, wire.HostConnected)

	label := faultLabel(t)
	labels := map[string]string{faultLabelKey: label}
	filters, err := json.Marshal(map[string][]string{"label": {faultLabelKey + "=" + label}, "event": allContainerActions})
	if err != nil {
		t.Fatal(err)
	}
	var clients []*wsClient
	for range 3 {
		clients = append(clients, dialWS(t, eventsURL(s, url.Values{"filters": {string(filters)}}), nil))
	}
	run := func(args ...string) string {
		id, _ := testenv.Run(t, c, testenv.RunOptions{Args: args, Labels: labels})
		return id
	}

	since := engineClock(t, c)
	// Before the cut: one whole lifecycle, and one container that is
	// still running when the cut comes and stops during it.
	lifecycle(t, c, labels)
	spanning := run("-lines", "-1", "-every", "100ms")
	testenv.WaitLog(t, c, spanning, "line 1")

	proxy.Cut()
	down := waitHost(t, s, "Localhost", 10*time.Second, wire.HostUnreachable)
	t.Logf("cut: Localhost %s: %s", down.State, down.Error)
	testenv.Stop(t, c, spanning)
	testenv.WaitExit(t, c, run("-exit", "3"))
	lifecycle(t, c, labels)
	testenv.WaitExit(t, c, run("-lines", "2", "-exit", "0"))

	proxy.Restore()
	// Right after the restore, while crowsnest is still reconnecting and
	// replaying the outage, then once it is live again.
	testenv.WaitExit(t, c, run("-exit", "1"))
	waitHost(t, s, "Localhost", 20*time.Second, wire.HostConnected)
	lifecycle(t, c, labels)
	until := engineClock(t, c)

	want := engineRecord(t, c, label, since, until)
	if len(want) < 20 {
		t.Fatalf("the engine recorded only %d events of this test", len(want))
	}
	wantKeys := map[string]bool{}
	for _, ev := range want {
		wantKeys[eventKey(ev)] = true
	}
	if len(wantKeys) != len(want) {
		t.Fatalf("the engine's own record repeats an event: %d events, %d distinct", len(want), len(wantKeys))
	}
	for i, cl := range clients {
		got := map[string]int{}
		missing := len(wantKeys)
		deadline := time.After(30 * time.Second)
		// Every expected event, then a moment more for any duplicate.
		quiet := time.Duration(0)
		for quiet == 0 || missing > 0 {
			var timeout <-chan time.Time
			if missing == 0 {
				timeout = time.After(time.Second)
			}
			select {
			case f := <-cl.frames:
				var ev wire.ContainerEvent
				if err := json.Unmarshal(f, &ev); err != nil {
					t.Fatalf("client %d: frame %s: %v", i, f, err)
				}
				k := eventKey(ev)
				got[k]++
				if wantKeys[k] && got[k] == 1 {
					missing--
				}
			case err := <-cl.closed:
				t.Fatalf("client %d: socket closed: %v", i, err)
			case <-timeout:
				quiet = time.Second
			case <-deadline:
				t.Fatalf("client %d: %d of %d events never came", i, missing, len(wantKeys))
			}
		}
		for k, n := range got {
			switch {
			case !wantKeys[k]:
				t.Errorf("client %d: event %s is not in the engine's record", i, k)
			case n != 1:
				t.Errorf("client %d: event %s came %d times", i, k, n)
			}
		}
	}
	t.Logf("%d clients each got the engine's %d events exactly once", len(clients), len(want))
}

// TestFaultsHostsDownThenUp: /api/v1/hosts reports the engine unreachable,
// with the reason, while it is cut and connected once restored, and
// /metrics' crowsnest_engines_up follows.
func TestFaultsHostsDownThenUp(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	c := testenv.Engine(t)
	proxy := testenv.NewProxy(t, c)
	s := startServer(t, "--host", "Localhost="+proxy.URL())
	up := waitHost(t, s, "Localhost", 20*time.Second, wire.HostConnected)
	if up.Version == "" || up.Error != "" {
		t.Errorf("connected host %+v: want a version and no error", up)
	}
	if n := metricValue(t, s, "crowsnest_engines_up"); n != 1 {
		t.Errorf("crowsnest_engines_up = %v while connected, want 1", n)
	}

	proxy.Cut()
	down := waitHost(t, s, "Localhost", 10*time.Second, wire.HostUnreachable)
	if down.Error == "" {
		t.Error("unreachable without the reason")
	}
	if !down.Since.After(up.Since) {
		t.Errorf("since %v: want the moment it became unreachable, after %v", down.Since, up.Since)
	}
	if n := metricValue(t, s, "crowsnest_engines_up"); n != 0 {
		t.Errorf("crowsnest_engines_up = %v while cut, want 0", n)
	}
	var health struct{ EnginesUp int }
	if err := json.Unmarshal(faultGet(t, s, "/healthz", 2*time.Second), &health); err != nil || health.EnginesUp != 0 {
		t.Errorf("/healthz while cut: enginesUp %d (%v), want 0 and still 200", health.EnginesUp, err)
	}
	t.Logf("cut: %s since %s: %s", down.State, down.Since.Format(time.RFC3339Nano), down.Error)

	proxy.Restore()
	again := waitHost(t, s, "Localhost", 20*time.Second, wire.HostConnected)
	if again.Error != "" || !again.Since.After(down.Since) {
		t.Errorf("restored host %+v", again)
	}
	if n := metricValue(t, s, "crowsnest_engines_up"); n != 1 {
		t.Errorf("crowsnest_engines_up = %v once restored, want 1", n)
	}
}

// TestFaultsStatsAndLogsResume cuts the engine under a /docker/stats client
// and a container logs client of a helper printing a line every 100 ms.
//
// What a user sees: the stats socket stays open; while the engine is cut it
// sends an error frame for the engine each interval and repeats the
// container's last sample (its timestamp stops moving), and fresh samples
// follow within seconds of the restore. The logs socket
// closes when the engine's log stream breaks (1011, "log stream failed: …");
// reconnecting with since= just after the last line received and tail=all
// continues exactly where it stopped: no line lost, none repeated.
func TestFaultsStatsAndLogsResume(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	c := testenv.Engine(t)
	proxy := testenv.NewProxy(t, c)
	id, name := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "100ms"}})
	testenv.WaitLog(t, c, id, "line 3")
	s := startServer(t, "--host", "Localhost="+proxy.URL(), "--stats-source", "engine", "--max-streams", "0", "--request-rate", "0")
	waitHost(t, s, "Localhost", 20*time.Second, wire.HostConnected)

	statsWS := dialWS(t, s.WS("/docker/stats?interval=1&container="+name), nil)
	waitStatsFrame(t, statsWS, "a sample of the helper", func(f statsFrame) bool { return f.ID == id && !f.Timestamp.IsZero() })

	logsURL := func(q url.Values) string {
		return s.WS("/api/v1/containers/" + id + "/logs/ws?" + q.Encode())
	}
	logsWS := dialWS(t, logsURL(url.Values{"tail": {"5"}}), nil)
	expectGreeting(t, logsWS)
	var numbers []int
	var last time.Time
	take := func(raw json.RawMessage) {
		var f struct {
			wire.LogLine
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(raw, &f); err != nil || f.Message != nil || f.Stream == "" {
			t.Fatalf("frame %s (%v): want a line", raw, err)
		}
		numbers = append(numbers, lineNumber(t, f.Line))
		last = f.Timestamp
	}
	for range 10 {
		take(nextLine(t, logsWS).raw)
	}

	proxy.Cut()
	cutAt := time.Now()
	// The logs socket ends with the engine's stream. The reader queues
	// every frame before reporting the close, so once the close is seen
	// the lines sent before it are all in frames.
	var closeErr error
	for closeErr == nil {
		select {
		case raw := <-logsWS.frames:
			take(raw)
		case closeErr = <-logsWS.closed:
		case <-time.After(15 * time.Second):
			t.Fatal("the logs socket stayed open for 15 s of cut engine")
		}
	}
	for len(logsWS.frames) > 0 {
		take(<-logsWS.frames)
	}
	var ce websocket.CloseError
	if !errors.As(closeErr, &ce) {
		t.Fatalf("logs socket ended without a close frame: %v", closeErr)
	}
	code, reason := ce.Code, ce.Reason
	t.Logf("logs socket closed %v after the cut: %d %q", time.Since(cutAt).Round(time.Millisecond), code, reason)
	if code != websocket.StatusInternalError || !strings.Contains(reason, "log stream failed") {
		t.Errorf("close %d %q: want 1011 saying the log stream failed", code, reason)
	}
	// Reconnecting while the engine is still cut is refused with a reason.
	resume := url.Values{"since": {unixNano(last.Add(time.Nanosecond))}, "tail": {"all"}}
	if status, body := dialStatus(t, logsURL(resume), nil); status != http.StatusInternalServerError || !strings.Contains(body, "message") {
		t.Errorf("logs socket during the cut: %d %s, want 500 with a message", status, body)
	}
	// The stats socket stays open, says the engine is unreachable and
	// repeats the last sample, whose timestamp no longer moves.
	down := waitStatsFrame(t, statsWS, "an error frame during the cut", func(f statsFrame) bool {
		return f.HostID == "Localhost" && f.Error != ""
	})
	stale := waitStatsFrame(t, statsWS, "a frame during the cut", func(f statsFrame) bool { return f.ID == id })
	t.Logf("stats during the cut: %q, and the sample of %v again", down.Error, stale.Timestamp.Format(time.StampMilli))
	time.Sleep(2 * time.Second)

	proxy.Restore()
	restoredAt := time.Now()
	fresh := waitStatsFrame(t, statsWS, "a sample taken after the restore", func(f statsFrame) bool {
		return f.ID == id && f.Timestamp.After(restoredAt)
	})
	t.Logf("stats: fresh sample %v after the restore", fresh.Timestamp.Sub(restoredAt).Round(time.Millisecond))
	// Once the engine is connected again the error frames stop (after the
	// ticks already queued).
	waitHost(t, s, "Localhost", 20*time.Second, wire.HostConnected)
	time.Sleep(1200 * time.Millisecond)
	for len(statsWS.frames) > 0 {
		<-statsWS.frames
	}
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); {
		if f := nextStats(t, statsWS, 5*time.Second); f.Error != "" {
			t.Errorf("error frame with the engine connected again: %+v", f)
		}
	}

	// Reconnect as a client would, from just after the last line received.
	var again *wsClient
	deadline := time.Now().Add(20 * time.Second)
	for again == nil {
		if status, _ := dialStatus(t, logsURL(resume), nil); status == 0 {
			again = dialWS(t, logsURL(resume), nil)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the logs socket did not accept a resume 20 s after the restore")
		}
		time.Sleep(200 * time.Millisecond)
	}
	expectGreeting(t, again)
	before := len(numbers)
	for len(numbers) < before+60 {
		take(nextLine(t, again).raw)
	}
	for i := 1; i < len(numbers); i++ {
		if numbers[i] != numbers[i-1]+1 {
			t.Fatalf("line %d follows line %d: lost or repeated across the cut (lines %v)", numbers[i], numbers[i-1], numbers)
		}
	}
	t.Logf("logs: lines %d to %d without a gap or repeat, %d of them after the resume", numbers[0], numbers[len(numbers)-1], len(numbers)-before)
}

// TestFaultsStalledEngineBlocksNothing stalls a second engine (it accepts
// connections and never answers): the HTTP server keeps answering, the
// real engine's events and stats keep flowing, and the stalled one is
// reported unreachable once its liveness ping times out.
func TestFaultsStalledEngineBlocksNothing(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	c := testenv.Engine(t)
	proxy := testenv.NewProxy(t, c)
	id, name := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "5m"}})
	testenv.WaitLog(t, c, id, "line 1")
	s := startServer(t, "--host", "stalled="+proxy.URL(), "--max-streams", "0", "--request-rate", "0")
	waitHost(t, s, "stalled", 20*time.Second, wire.HostConnected)
	waitHost(t, s, "Localhost", 20*time.Second, wire.HostConnected)

	label := faultLabel(t)
	filters := fmt.Sprintf(`{"host":["Localhost"],"label":[%q]}`, faultLabelKey+"="+label)
	events := dialWS(t, eventsURL(s, url.Values{"filters": {filters}}), nil)
	statsWS := dialWS(t, s.WS("/docker/stats?interval=1&host=Localhost&container="+name), nil)
	waitStatsFrame(t, statsWS, "a Localhost sample", func(f statsFrame) bool { return f.ID == id && !f.Timestamp.IsZero() })

	proxy.Stall()
	stalledAt := time.Now()
	// Requests about the stalled engine itself fail within their engine
	// timeouts (inspect: 10 s for the logs socket, 15 s for the containers
	// API) instead of hanging; they run beside the rest of the test.
	type bounded struct {
		what   string
		status int
		took   time.Duration
		err    error
	}
	boundedC := make(chan bounded, 2)
	go func() {
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, resp, err := websocket.Dial(ctx, s.WS("/api/v1/containers/"+name+"/logs/ws?host=stalled"), nil)
		r := bounded{what: "logs socket", took: time.Since(began), err: err}
		if conn != nil {
			conn.CloseNow()
		}
		if resp != nil {
			r.status = resp.StatusCode
		}
		boundedC <- r
	}()
	go func() {
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r := bounded{what: "container detail"}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/containers/"+name+"?host=stalled", nil)
		if err == nil {
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				r.status = resp.StatusCode
				resp.Body.Close()
			}
		}
		r.took, r.err = time.Since(began), err
		boundedC <- r
	}()
	// The HTTP surface answers promptly throughout, also on routes that
	// read every engine's inventory.
	check := func() {
		t.Helper()
		faultGet(t, s, "/healthz", 2*time.Second)
		faultGet(t, s, "/api/v1/hosts", 2*time.Second)
		faultGet(t, s, "/api/v1/events?per_page=5", 2*time.Second)
		faultGet(t, s, "/api/v1/containers", 5*time.Second)
		faultGet(t, s, "/api/v1/containers/"+name+"?host=Localhost", 5*time.Second)
		faultGet(t, s, "/metrics", 2*time.Second)
	}
	check()

	// Localhost events keep flowing.
	other, _ := lifecycle(t, c, map[string]string{faultLabelKey: label})
	events.waitAction(t, other, "start", 20*time.Second)
	events.waitAction(t, other, "stop", 20*time.Second)
	check()
	// Localhost stats keep coming: a sample taken after the stall.
	waitStatsFrame(t, statsWS, "a Localhost sample after the stall", func(f statsFrame) bool {
		return f.ID == id && f.Timestamp.After(stalledAt)
	})

	// The stalled engine leaves "connected" once a liveness ping times out.
	var h wire.Host
	for h = faultHost(t, s, "stalled"); h.State == wire.HostConnected; h = faultHost(t, s, "stalled") {
		if time.Since(stalledAt) > 25*time.Second {
			t.Fatalf("the stalled engine is still reported connected after %v", time.Since(stalledAt))
		}
		check()
		time.Sleep(250 * time.Millisecond)
	}
	if h.State != wire.HostUnreachable || h.Error == "" {
		t.Errorf("stalled host %+v: want unreachable with the reason", h)
	}
	t.Logf("stalled engine reported %s %v after the stall: %s", h.State, time.Since(stalledAt).Round(time.Millisecond), h.Error)
	if n := metricValue(t, s, "crowsnest_engines_up"); n != 1 {
		t.Errorf("crowsnest_engines_up = %v with one engine stalled, want 1", n)
	}
	check()
	for range 2 {
		r := <-boundedC
		t.Logf("%s on the stalled engine: %d after %v (%v)", r.what, r.status, r.took.Round(time.Millisecond), r.err)
		if r.status != http.StatusInternalServerError || r.took > 20*time.Second {
			t.Errorf("%s on the stalled engine: status %d after %v (%v), want 500 within its engine timeout", r.what, r.status, r.took, r.err)
		}
	}

	// Thawed, it comes back by itself.
	proxy.Restore()
	waitHost(t, s, "stalled", 30*time.Second, wire.HostConnected)
}

// TestFaultsDelayedEngineStillWorks runs everything through a proxy adding
// 200 ms to every chunk each way: slower, but nothing breaks.
func TestFaultsDelayedEngineStillWorks(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	const delay = 200 * time.Millisecond
	c := testenv.Engine(t)
	proxy := testenv.NewProxy(t, c)
	proxy.Delay(delay)
	running, name := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "100ms"}})
	testenv.WaitLog(t, c, running, "line 3")
	s := startServer(t, "--host", "Localhost="+proxy.URL(), "--stats-source", "engine", "--max-streams", "0", "--request-rate", "0")
	waitHost(t, s, "Localhost", 30*time.Second, wire.HostConnected)

	label := faultLabel(t)
	events := dialWS(t, eventsURL(s, url.Values{"filters": {fmt.Sprintf(`{"label":[%q]}`, faultLabelKey+"="+label)}}), nil)
	statsWS := dialWS(t, s.WS("/docker/stats?interval=1&container="+name), nil)
	logsWS := dialWS(t, s.WS("/api/v1/containers/"+name+"/logs/ws?tail=3"), nil)

	// Slower: inspecting crosses the proxy once each way.
	began := time.Now()
	faultGet(t, s, "/api/v1/containers/"+name+"?host=Localhost", 10*time.Second)
	if took := time.Since(began); took < 2*delay {
		t.Errorf("inspecting through the delayed proxy took %v, less than its round trip of %v", took, 2*delay)
	}

	id, _ := lifecycle(t, c, map[string]string{faultLabelKey: label})
	events.waitAction(t, id, "start", 30*time.Second)
	events.waitAction(t, id, "stop", 30*time.Second)

	waitStatsFrame(t, statsWS, "a sample of the helper", func(f statsFrame) bool { return f.ID == running && !f.Timestamp.IsZero() })

	expectGreeting(t, logsWS)
	prev := lineNumber(t, nextLine(t, logsWS).Line)
	for range 20 {
		n := lineNumber(t, nextLine(t, logsWS).Line)
		if n != prev+1 {
			t.Fatalf("line %d after %d", n, prev)
		}
		prev = n
	}

	var list []wire.ContainerSummary
	if err := json.Unmarshal(faultGet(t, s, "/api/v1/containers", 10*time.Second), &list); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list, func(cs wire.ContainerSummary) bool { return cs.ID == running }) {
		t.Errorf("/api/v1/containers lacks the helper: %+v", list)
	}
}
