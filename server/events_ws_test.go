package main

import (
	"context"
	"encoding/json"
	"fmt"
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

// eventsURL is the /events/ws URL of s with the given query values.
func eventsURL(s *liveServer, q url.Values) string {
	return s.WS("/events/ws?" + q.Encode())
}

// collect decodes every frame of c that concerns container id until d passes.
func (c *wsClient) eventsFor(t testing.TB, id string, d time.Duration) []wire.ContainerEvent {
	t.Helper()
	var got []wire.ContainerEvent
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			var ev wire.ContainerEvent
			if err := json.Unmarshal(f, &ev); err != nil {
				t.Fatalf("frame is not an event: %v: %s", err, f)
			}
			if ev.Actor.ID == id {
				got = append(got, ev)
			}
		case <-deadline:
			return got
		}
	}
}

// waitAction reads c until container id's action arrives, failing after d.
func (c *wsClient) waitAction(t testing.TB, id, action string, d time.Duration) wire.ContainerEvent {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			var ev wire.ContainerEvent
			if err := json.Unmarshal(f, &ev); err != nil {
				t.Fatalf("frame is not an event: %v: %s", err, f)
			}
			if ev.Actor.ID == id && ev.Action == action {
				return ev
			}
		case err := <-c.closed:
			t.Fatalf("socket closed before %s of %s: %v", action, id, err)
		case <-deadline:
			t.Fatalf("no %s event of %s within %v", action, id, d)
		}
	}
}

func actions(evs []wire.ContainerEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

// lifecycle starts a labelled helper container, waits until it runs, and
// stops it: the events start, kill, die, stop.
func lifecycle(t *testing.T, c *client.Client, labels map[string]string) (id, name string) {
	t.Helper()
	id, name = testenv.Run(t, c, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "1h"}, Labels: labels})
	testenv.WaitLog(t, c, id, "line")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.ContainerStop(ctx, id, client.ContainerStopOptions{}); err != nil {
		t.Fatalf("stop %s: %v", name, err)
	}
	return id, name
}

func TestEventsWSFilters(t *testing.T) {
	c := testenv.Engine(t)
	image := testenv.HelperImage(t)
	s := startServer(t)
	name := fmt.Sprintf("cn-filter-%d", time.Now().UnixNano())
	labels := map[string]string{"crowsnest.tier": "web", "crowsnest.empty": "", "crowsnest.eq": "value=more"}
	repo, _, _ := strings.Cut(image, ":")

	type tc struct {
		name    string
		filters func(id string) string
		want    []string // actions of our container that must arrive, in order; nil: none
	}
	startStop := []string{"start", "stop"}
	cases := []tc{
		{"no filter carries start and stop", func(string) string { return "" }, startStop},
		{"container by exact name", func(string) string { return `{"container":{"` + name + `":true}}` }, startStop},
		{"container by name prefix", func(string) string { return `{"container":["` + name[:len(name)-3] + `"]}` }, startStop},
		{"container by ID prefix", func(id string) string { return `{"container":{"` + id[:12] + `":true}}` }, startStop},
		{"container that is not ours", func(string) string { return `{"container":["cn-nobody-here"]}` }, nil},
		{"image without tag", func(string) string { return `{"image":{"` + repo + `":true}}` }, startStop},
		{"image with its tag", func(string) string { return `{"image":["` + image + `"]}` }, startStop},
		{"image with another tag", func(string) string { return `{"image":["` + repo + `:other"]}` }, nil},
		{"event die only", func(string) string { return `{"event":["die"]}` }, []string{"die"}},
		{"event start and die", func(string) string { return `{"event":{"start":true,"die":true}}` }, []string{"start", "die"}},
		{"label key exists", func(string) string { return `{"label":["crowsnest.tier"]}` }, startStop},
		{"label key=value", func(string) string { return `{"label":{"crowsnest.tier=web":true}}` }, startStop},
		{"label other value", func(string) string { return `{"label":["crowsnest.tier=db"]}` }, nil},
		{"label key= matches an empty value", func(string) string { return `{"label":["crowsnest.empty="]}` }, startStop},
		{"label key=value=more splits at the first =", func(string) string { return `{"label":["crowsnest.eq=value=more"]}` }, startStop},
		{"label empty key", func(string) string { return `{"label":[""]}` }, nil},
		{"label values AND", func(string) string { return `{"label":["crowsnest.tier=web","crowsnest.eq=value=more"]}` }, startStop},
		{"label values AND, one missing", func(string) string { return `{"label":["crowsnest.tier=web","crowsnest.tier=db"]}` }, nil},
		{"host", func(string) string { return `{"host":["Localhost"]}` }, startStop},
		{"other host", func(string) string { return `{"host":["elsewhere"]}` }, nil},
		{"compound event and label", func(string) string {
			return `{"event":{"stop":true},"label":{"crowsnest.tier=web":true}}`
		}, []string{"stop"}},
		{"compound, keys AND", func(string) string { return `{"event":["start"],"container":["cn-nobody-here"]}` }, nil},
	}

	// The container's ID is only known once it exists, so clients that
	// filter by ID connect to a created but not yet started container.
	id, _ := testenv.Run(t, c, testenv.RunOptions{Name: name, Args: []string{"-lines", "1", "-sleep", "1h"}, Labels: labels, NoStart: true})
	sentinel := dialWS(t, eventsURL(s, nil), nil)
	clients := make([]*wsClient, len(cases))
	for i, k := range cases {
		clients[i] = dialWS(t, eventsURL(s, url.Values{"filters": {k.filters(id)}}), nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitLog(t, c, id, "line")
	if _, err := c.ContainerStop(ctx, id, client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	sentinel.waitAction(t, id, "stop", 20*time.Second)

	for i, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			got := actions(clients[i].eventsFor(t, id, 300*time.Millisecond))
			if !slices.Equal(got, k.want) && !(len(got) == 0 && k.want == nil) {
				t.Errorf("filters %s: got actions %v, want %v", k.filters(id), got, k.want)
			}
		})
	}
}

func TestEventsWSMessageShape(t *testing.T) {
	c := testenv.Engine(t)
	s := startServer(t)
	ws := dialWS(t, eventsURL(s, nil), nil)
	id, name := lifecycle(t, c, map[string]string{"crowsnest.shape": "yes"})
	start := ws.waitAction(t, id, "start", 20*time.Second)
	f := start
	if f.Status != "start" || f.ID != id || f.Type != "container" || f.From == "" || f.Host != "Localhost" {
		t.Errorf("start event fields: %+v", f)
	}
	if f.Name() != name || f.Actor.Attributes["crowsnest.shape"] != "yes" {
		t.Errorf("attributes: %v", f.Actor.Attributes)
	}
	if f.Time == 0 || f.TimeNano/1e9 != f.Time {
		t.Errorf("time %d and timeNano %d disagree", f.Time, f.TimeNano)
	}
	ws.waitAction(t, id, "stop", 20*time.Second)
}

func TestEventsWSSinceReplaysFromTheStore(t *testing.T) {
	c := testenv.Engine(t)
	data := t.TempDir()
	first := startServerIn(t, data)
	before := time.Now().Add(-time.Second)
	watch := dialWS(t, eventsURL(first, nil), nil)
	id, _ := lifecycle(t, c, nil)
	watch.waitAction(t, id, "stop", 20*time.Second)
	after := time.Now()
	first.Stop()

	// A new server on the same store replays what the first one saw, even
	// though the engine's own memory is not consulted.
	second := startServerIn(t, data)
	q := url.Values{
		"since":   {fmt.Sprintf("%d", before.Unix())},
		"until":   {after.Format(time.RFC3339Nano)},
		"filters": {`{"event":["start","die","stop"]}`},
	}
	replay := dialWS(t, eventsURL(second, q), nil)
	got := actions(replay.eventsFor(t, id, time.Second))
	if want := []string{"start", "die", "stop"}; !slices.Equal(got, want) {
		t.Errorf("replayed actions %v, want %v", got, want)
	}
	if code, reason := replay.closeStatus(t, 5*time.Second); code != websocket.StatusNormalClosure || reason != "until reached" {
		t.Errorf("close after until: %v %q", code, reason)
	}

	// since without until: history, then live, with nothing twice.
	live := dialWS(t, eventsURL(second, url.Values{"since": {"1h"}}), nil)
	live.waitAction(t, id, "start", 10*time.Second)
	live.waitAction(t, id, "stop", 10*time.Second)
	id2, _ := lifecycle(t, c, nil)
	got = actions(live.eventsFor(t, id2, 3*time.Second))
	if want := []string{"start", "stop"}; !slices.Equal(got, want) {
		t.Errorf("live after replay: %v, want %v", got, want)
	}
}

func TestEventsWSDeadEngineBesideLiveOne(t *testing.T) {
	c := testenv.Engine(t)
	s := startServer(t, "--host", "dead=unix:///nonexistent/docker.sock")
	ws := dialWS(t, eventsURL(s, nil), nil)
	id, _ := lifecycle(t, c, nil)
	ws.waitAction(t, id, "stop", 20*time.Second)

	resp, err := http.Get(s.URL + "/api/v1/hosts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hosts []wire.Host
	if err := json.NewDecoder(resp.Body).Decode(&hosts); err != nil {
		t.Fatal(err)
	}
	states := map[string]wire.Host{}
	for _, h := range hosts {
		states[h.Name] = h
	}
	if h := states["Localhost"]; h.State != wire.HostConnected || h.Version == "" {
		t.Errorf("Localhost: %+v", h)
	}
	if h := states["dead"]; h.State != wire.HostUnreachable || !strings.Contains(h.Error, "nonexistent") {
		t.Errorf("dead host: %+v", h)
	}
}

func TestEventsWSRefusesBadRequests(t *testing.T) {
	s := startServer(t)
	cases := []struct {
		name  string
		query string
		want  string // part of the message
	}{
		{"malformed JSON", `filters={"event":`, "filters"},
		{"unknown key", `filters={"colour":["red"]}`, "colour"},
		{"unknown action", `filters={"event":["explode"]}`, "explode"},
		{"bad since", `since=yesterday`, "since"},
		{"bad until", `until=2026-13-45`, "until"},
		{"until before since", `since=2000&until=1000`, "until is before since"},
	}
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			status, body := dialStatus(t, s.WS("/events/ws?"+strings.ReplaceAll(k.query, `"`, "%22")), nil)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 (body %s)", status, body)
			}
			var m wire.Message
			if err := json.Unmarshal([]byte(body), &m); err != nil || !strings.Contains(m.Message, k.want) {
				t.Errorf("body %s does not name %q", body, k.want)
			}
		})
	}
}

func TestEventsWSWithoutAnyEngine(t *testing.T) {
	s := startServer(t, "--host", "Localhost=unix:///nonexistent/docker.sock")
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := dialStatus(t, s.WS("/events/ws"), nil)
		if status == http.StatusInternalServerError {
			if !strings.Contains(body, "nonexistent") {
				t.Errorf("500 without the cause: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live-only stream with no engine: status %d, want 500", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The store still serves history.
	if status, body := dialStatus(t, s.WS("/events/ws?since=1h"), nil); status != 0 {
		t.Errorf("replay with no engine: status %d %s", status, body)
	}
}
