package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// statsFrame is either kind of /docker/stats frame.
type statsFrame struct {
	wire.Stats
	Error   string `json:"error"`
	Message string `json:"message"`
}

// nextStats decodes the client's next frame, failing after timeout.
func nextStats(t *testing.T, c *wsClient, timeout time.Duration) statsFrame {
	t.Helper()
	select {
	case data := <-c.frames:
		var f statsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		return f
	case err := <-c.closed:
		t.Fatalf("socket closed: %v", err)
	case <-time.After(timeout):
		t.Fatalf("no frame within %v", timeout)
	}
	return statsFrame{}
}

// waitStatsFrame reads frames until ok accepts one.
func waitStatsFrame(t *testing.T, c *wsClient, what string, ok func(statsFrame) bool) statsFrame {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if f := nextStats(t, c, 30*time.Second); ok(f) {
			return f
		}
	}
	t.Fatalf("no frame with %s", what)
	return statsFrame{}
}

// metricValue reads one sample of the server's /metrics.
func metricValue(t testing.TB, s *liveServer, name string) float64 {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not exposed", name)
	return 0
}

// TestStatsSocketSharesOneEngineStream connects 20 clients to one
// container's stats: each gets the greeting and frames, the engine is
// asked once, a dead second engine shows as an error frame, and stopping
// the container ends with an exited frame.
func TestStatsSocketSharesOneEngineStream(t *testing.T) {
	cli := testenv.Engine(t)
	id, name := testenv.Run(t, cli, testenv.RunOptions{Args: []string{"-cpu", "1", "-lines", "1", "-sleep", "5m"}})
	testenv.WaitLog(t, cli, id, "line 1")
	s := startServer(t, "--stats-source", "engine", "--host", "Dead=tcp://127.0.0.1:1", "--max-streams", "0", "--request-rate", "0")

	var clients []*wsClient
	for range 20 {
		c := dialWS(t, s.WS("/docker/stats?interval=1&container="+name), nil)
		if f := nextStats(t, c, 10*time.Second); f.Message != "Connection established" {
			t.Fatalf("first frame %+v, want the greeting", f)
		}
		clients = append(clients, c)
	}
	for _, c := range clients {
		f := waitStatsFrame(t, c, "the container running", func(f statsFrame) bool { return f.ID == id && f.State == "running" })
		if f.HostID != "Localhost" || f.Name != name || f.Image == "" || !strings.HasPrefix(f.Status, "Up ") || f.Timestamp.IsZero() {
			t.Errorf("frame %+v", f.Stats)
		}
	}
	if got := metricValue(t, s, "crowsnest_stats_engine_requests_total"); got != 1 {
		t.Errorf("20 clients made %v engine stats requests, want 1", got)
	}

	// All hosts: the dead one has an error frame, the local one frames.
	all := dialWS(t, s.WS("/docker/stats?interval=1s"), nil)
	nextStats(t, all, 10*time.Second)
	waitStatsFrame(t, all, "an error for Dead", func(f statsFrame) bool { return f.HostID == "Dead" && f.Error != "" })
	waitStatsFrame(t, all, "Localhost frames", func(f statsFrame) bool { return f.HostID == "Localhost" && f.ID == id })

	timeout := 1
	if _, err := cli.ContainerStop(context.Background(), id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	last := waitStatsFrame(t, clients[0], "the container stopped", func(f statsFrame) bool { return f.ID == id && f.State != "running" })
	if last.State != "exited" || last.CPUUsage != 0 || last.MemoryUsage != 0 {
		t.Errorf("last frame %+v, want exited with zero usage", last.Stats)
	}
	if got := metricValue(t, s, "crowsnest_stats_samples_sent_total"); got < 40 {
		t.Errorf("samples sent = %v, want at least one per client", got)
	}
}

func TestStatsSocketRefusesBadQueries(t *testing.T) {
	testenv.Engine(t)
	s := startServer(t)
	for _, q := range []string{"interval=0.5", "interval=500ms", "interval=abc", "interval=-1", "host=Nowhere"} {
		if code, body := dialStatus(t, s.WS("/docker/stats?"+q), nil); code != http.StatusBadRequest || !strings.Contains(body, `"message"`) {
			t.Errorf("%s: status %d %s, want 400 with a message", q, code, body)
		}
	}
	if code, _ := dialStatus(t, s.WS("/docker/stats?interval=1.5"), nil); code != 0 {
		t.Errorf("interval=1.5 refused with %d", code)
	}
}

func TestContainersAPI(t *testing.T) {
	cli := testenv.Engine(t)
	running, name := testenv.Run(t, cli, testenv.RunOptions{Args: []string{"-mem", "16", "-lines", "1", "-sleep", "5m"}})
	created, _ := testenv.Run(t, cli, testenv.RunOptions{NoStart: true})
	testenv.WaitLog(t, cli, running, "line 1")
	s := startServer(t)

	get := func(path string, want int, v any) {
		t.Helper()
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, body, want)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %s: %v", path, body, err)
		}
	}
	find := func(list []wire.ContainerSummary, id string) *wire.ContainerSummary {
		for i := range list {
			if list[i].ID == id {
				return &list[i]
			}
		}
		return nil
	}
	var list []wire.ContainerSummary
	deadline := time.Now().Add(30 * time.Second)
	for {
		get("/api/v1/containers", http.StatusOK, &list)
		if c := find(list, running); c != nil && c.Stats != nil {
			if c.Name != name || c.Host != "Localhost" || c.State != "running" || c.Stats.MemoryBytes < 16<<20 {
				t.Errorf("summary %+v, stats %+v", *c, *c.Stats)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s never listed with stats: %+v", name, list)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if find(list, created) != nil {
		t.Error("a created container is listed without all=1")
	}
	get("/api/v1/containers?all=1", http.StatusOK, &list)
	if c := find(list, created); c == nil || c.State != "created" {
		t.Errorf("all=1: created container %+v", c)
	}

	var d wire.ContainerDetail
	get("/api/v1/containers/"+name+"?host=Localhost", http.StatusOK, &d)
	if d.ID != running || d.Name != name || d.StartedAt.IsZero() || d.Pid == 0 || len(d.Command) == 0 {
		t.Errorf("detail %+v", d)
	}
	get("/api/v1/containers/"+running[:12], http.StatusOK, &d)
	var m wire.Message
	get("/api/v1/containers/no-such-container-here", http.StatusNotFound, &m)
	if m.Message == "" {
		t.Error("404 without a message")
	}
	get("/api/v1/containers/"+name+"?host=Nowhere", http.StatusNotFound, &m)
	get("/api/v1/containers?all=maybe", http.StatusBadRequest, &m)
}
