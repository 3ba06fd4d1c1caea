package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// engineFigures is the engine's own `docker stats --no-stream` reading of
// a container: CPU over one second in percent, memory without the
// inactive page cache.
func engineFigures(t *testing.T, cli *client.Client, id string) (cpu float64, mem uint64) {
	t.Helper()
	res, err := cli.ContainerStats(context.Background(), id, client.ContainerStatsOptions{IncludePreviousSample: true})
	if err != nil {
		t.Fatalf("engine stats: %v", err)
	}
	defer res.Body.Close()
	var f container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&f); err != nil {
		t.Fatalf("engine stats: %v", err)
	}
	d := float64(f.CPUStats.CPUUsage.TotalUsage - f.PreCPUStats.CPUUsage.TotalUsage)
	sys := float64(f.CPUStats.SystemUsage - f.PreCPUStats.SystemUsage)
	inactive := f.MemoryStats.Stats["inactive_file"]
	if inactive == 0 {
		inactive = f.MemoryStats.Stats["total_inactive_file"] // cgroup v1
	}
	return d / sys * float64(f.CPUStats.OnlineCPUs) * 100, f.MemoryStats.Usage - min(inactive, f.MemoryStats.Usage)
}

// getStatus is a GET's status and body.
func getStatus(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// containerHistory is GET /api/v1/containers/{ref}/stats with query q.
func containerHistory(t *testing.T, s *liveServer, ref string, q url.Values) wire.StatsHistory {
	t.Helper()
	var h wire.StatsHistory
	getJSON(t, s.URL+"/api/v1/containers/"+url.PathEscape(ref)+"/stats?"+q.Encode(), &h)
	return h
}

func meanCPU(pts []wire.StatsPoint) float64 {
	var sum float64
	for _, p := range pts {
		sum += p.CPU
	}
	return sum / float64(len(pts))
}

// TestStatsHistoryOverHTTP runs crowsnest sampling every 2 s on the real
// engine: a container burning a core shows the engine's CPU figure at
// every resolution through the API; /metrics carries the running
// containers' series with their labels and the engine's figures; the
// history survives a restart on the same data directory; a removed
// container's history is served by ID and by name; bad ranges are 400 and
// unknown containers and engines 404.
func TestStatsHistoryOverHTTP(t *testing.T) {
	cli := testenv.Engine(t)
	noNet := func() *container.HostConfig { return &container.HostConfig{NetworkMode: "none"} }
	burner, burnerName := testenv.Run(t, cli, testenv.RunOptions{Args: []string{"-cpu", "1", "-mem", "24", "-lines", "1", "-sleep", "10m"}, HostConfig: noNet(),
		Labels: map[string]string{"com.docker.compose.project": "histproj", "com.docker.compose.service": "burn"}})
	short, shortName := testenv.Run(t, cli, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "10m"}, HostConfig: noNet()})

	data := t.TempDir()
	s := startServerIn(t, data, "--stats-every", "2s")

	// The engine's figure over the same span is the reference: on a
	// shared machine the burner gets less than a core, and varies.
	var cpus []float64
	var mems []uint64
	start := time.Now()
	for time.Since(start) < 16*time.Second {
		c, m := engineFigures(t, cli, burner)
		cpus, mems = append(cpus, c), append(mems, m)
		time.Sleep(time.Second)
	}
	var engineCPU float64
	for _, c := range cpus {
		engineCPU += c
	}
	engineCPU /= float64(len(cpus))
	t.Logf("engine's CPU figure for the burner: mean %.1f %% over %d readings", engineCPU, len(cpus))

	checkContainerMetrics(t, s, burnerName, engineCPU, mems[len(mems)-1])

	for _, rng := range []string{"15m", "6h", "24h"} {
		h := containerHistory(t, s, burner[:12], url.Values{"range": {rng}})
		if len(h.Points) == 0 {
			t.Fatalf("%s: no points", rng)
		}
		got := meanCPU(h.Points)
		t.Logf("%s: resolution %d s, %d points, mean CPU %.1f %%", rng, h.Resolution, len(h.Points), got)
		if h.ID != burner || h.Name != burnerName || math.Abs(got-engineCPU) > 15 {
			t.Errorf("%s: %s %s, mean CPU %.1f %%; want %s %s within 15 of the engine's %.1f %%", rng, h.ID, h.Name, got, burner, burnerName, engineCPU)
		}
	}
	if h := containerHistory(t, s, burnerName, url.Values{"range": {"15m"}}); h.Resolution != 2 {
		t.Errorf("15m: resolution %d s, want the sampling cadence 2 s", h.Resolution)
	}
	var host wire.StatsHistory
	getJSON(t, s.URL+"/api/v1/hosts/Localhost/stats?range=15m", &host)
	if len(host.Points) == 0 || host.Points[len(host.Points)-1].CPU < engineCPU-15 {
		t.Errorf("Localhost's aggregate: %d points; want them to include the burner's CPU", len(host.Points))
	}

	var top wire.StatsTop
	getJSON(t, s.URL+"/api/v1/stats/top?range=15m&n=50", &top)
	if i := slices.IndexFunc(top.CPU, func(e wire.StatsTopEntry) bool { return e.ID == burner }); i < 0 || math.Abs(top.CPU[i].CPU-engineCPU) > 15 ||
		slices.IndexFunc(top.Memory, func(e wire.StatsTopEntry) bool { return e.ID == burner }) < 0 {
		t.Errorf("top over 15m: the burner (%.1f %% on the engine) is missing or off: %+v", engineCPU, top.CPU)
	}

	removeCounted(t, s, cli, short)
	s.Stop()
	stopped := time.Now()
	time.Sleep(5 * time.Second) // a gap of two steps and more
	s = startServerIn(t, data, "--stats-every", "2s")
	time.Sleep(6 * time.Second)

	h := containerHistory(t, s, burner, url.Values{"range": {"15m"}})
	before, after := 0, 0
	gap := false
	for i, p := range h.Points {
		if p.T.Before(stopped) {
			before++
		} else {
			after++
		}
		if i > 0 && p.T.Sub(h.Points[i-1].T) > 2*time.Duration(h.Resolution)*time.Second {
			gap = true
		}
	}
	if before < 4 || after < 1 || !gap {
		t.Errorf("after a restart: %d points from before the stop, %d after, gap %v; want both and a gap between", before, after, gap)
	}
	for _, ref := range []string{short, shortName} {
		if h := containerHistory(t, s, ref, url.Values{"range": {"1h"}}); len(h.Points) == 0 || h.ID != short || h.Name != shortName {
			t.Errorf("the removed container by %s: %d points, %s %s", ref, len(h.Points), h.ID, h.Name)
		}
	}

	from := time.Now().Add(-time.Hour)
	bad := []struct {
		path   string
		status int
		reason string
	}{
		{"/api/v1/containers/" + burnerName + "/stats?range=2h", 400, "unknown range"},
		{"/api/v1/containers/" + burnerName + "/stats?from=" + strconv.FormatInt(from.Unix(), 10) + "&to=" + strconv.FormatInt(from.Add(-time.Minute).Unix(), 10), 400, "is not before"},
		{"/api/v1/containers/" + burnerName + "/stats?from=" + url.QueryEscape(time.Now().Add(-31*24*time.Hour).Format(time.RFC3339)), 400, "beyond the retention"},
		{"/api/v1/containers/no-such-container-ever/stats", 404, "no such container"},
		{"/api/v1/containers/" + burnerName + "/stats?host=Nowhere", 404, "no such container"},
		{"/api/v1/hosts/Nowhere/stats", 404, "Nowhere"},
		{"/api/v1/hosts/Localhost/stats?range=1y", 400, "unknown range"},
		{"/api/v1/stats/top?n=0", 400, "n: want"},
		{"/api/v1/stats/top?range=2d", 400, "unknown range"},
	}
	for _, c := range bad {
		status, body := getStatus(t, s.URL+c.path)
		if status != c.status || !strings.Contains(body, c.reason) {
			t.Errorf("GET %s: %d %s; want %d with %q", c.path, status, body, c.status, c.reason)
		}
	}
}

// removeCounted removes a container and waits until s has counted its
// destroy on /metrics: the event went through the feed (and the store).
// Other tests share the engine and their containers' destroys count too,
// so the counter must grow rather than reach a given value.
func removeCounted(t *testing.T, s *liveServer, cli *client.Client, id string) {
	t.Helper()
	destroys := func() float64 {
		return sampleValue(getWith(t, s.URL+"/metrics", nil), `crowsnest_container_events_total{action="destroy",host="Localhost"}`)
	}
	before := destroys()
	if _, err := cli.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); destroys() <= before; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the container's destroy was not counted on /metrics (%v before)", before)
		}
	}
}

// metricLine matches a sample line of the text format: name, labels, value.
var metricLine = regexp.MustCompile(`^(crowsnest_container_[a-z_]+)\{([^}]*)\} (\S+)$`)

// checkContainerMetrics reads /metrics and checks the burner's series:
// its labels, CPU in cores near the engine's figure, memory near the
// engine's.
func checkContainerMetrics(t *testing.T, s *liveServer, name string, engineCPU float64, engineMem uint64) {
	t.Helper()
	text := getWith(t, s.URL+"/metrics", nil)
	values := map[string]float64{}
	for line := range strings.Lines(text) {
		m := metricLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || !strings.Contains(m[2], `name="`+name+`"`) {
			continue
		}
		for _, l := range []string{`host="Localhost"`, `image="`, `compose_project="histproj"`, `compose_service="burn"`} {
			if !strings.Contains(m[2], l) {
				t.Errorf("%s{%s}: no %s", m[1], m[2], l)
			}
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if m[1] == "crowsnest_container_state" && !strings.Contains(m[2], `state="running"`) {
			continue
		}
		values[m[1]] = v
	}
	t.Logf("burner's series: %v", values)
	cores, mem := values["crowsnest_container_cpu_usage_cores"], values["crowsnest_container_memory_usage_bytes"]
	if math.Abs(cores*100-engineCPU) > 20 {
		t.Errorf("cpu_usage_cores %.2f, want within 0.2 of the engine's %.2f", cores, engineCPU/100)
	}
	if math.Abs(mem-float64(engineMem)) > math.Max(2<<20, 0.15*float64(engineMem)) {
		t.Errorf("memory_usage_bytes %.0f, want within 15 %% (or 2 MiB) of the engine's %d", mem, engineMem)
	}
	if values["crowsnest_container_state"] != 1 || values["crowsnest_container_cpu_usage_seconds_total"] <= 0 {
		t.Errorf("state running %v, cpu seconds %v; want 1 and above 0", values["crowsnest_container_state"], values["crowsnest_container_cpu_usage_seconds_total"])
	}
}

// sampleValue is the value of the sample named series (name and labels as
// the text format prints them), 0 when absent.
func sampleValue(text, series string) float64 {
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// TestStatsHistoryFlags: --stats-every and --stats-retention default to
// 10 s and 30 days, are listed by --help, read CROWSNEST_* variables, and
// refuse what the history cannot keep.
func TestStatsHistoryFlags(t *testing.T) {
	var usage strings.Builder
	if _, err := parseConfig([]string{"--help"}, func(string) string { return "" }, &usage); err == nil {
		t.Fatal("--help did not stop parsing")
	}
	for _, f := range []string{"-stats-every", "-stats-retention"} {
		if !strings.Contains(usage.String(), f) {
			t.Errorf("--help does not list %s", f)
		}
	}
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	cases := []struct {
		args          []string
		env           map[string]string
		every, retain time.Duration
		err           string
	}{
		{every: 10 * time.Second, retain: 30 * 24 * time.Hour},
		{args: []string{"--stats-every", "2s", "--stats-retention", "168h"}, every: 2 * time.Second, retain: 168 * time.Hour},
		{env: map[string]string{"CROWSNEST_STATS_EVERY": "30s", "CROWSNEST_STATS_RETENTION": "48h"}, every: 30 * time.Second, retain: 48 * time.Hour},
		{args: []string{"--stats-every", "500ms"}, err: "--stats-every"},
		{args: []string{"--stats-every", "1500ms"}, err: "--stats-every"},
		{args: []string{"--stats-every", "1m", "--stats-retention", "30s"}, err: "--stats-retention"},
	}
	for _, c := range cases {
		cfg, err := parseConfig(c.args, env(c.env), io.Discard)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v %v: error %v, want one about %s", c.args, c.env, err, c.err)
			}
		case err != nil:
			t.Errorf("%v %v: %v", c.args, c.env, err)
		case cfg.StatsEvery != c.every || cfg.StatsRetention != c.retain:
			t.Errorf("%v %v: every %v, retention %v; want %v, %v", c.args, c.env, cfg.StatsEvery, cfg.StatsRetention, c.every, c.retain)
		}
	}
}

// TestBrowserStatsHistory: with a second-by-second history that has a gap
// (crowsnest restarted), a container page's range picker loads the
// history and draws the gap; the overview ranks the burner first by CPU;
// a removed container's destroy row on the events page links to its page,
// which shows its history although the engine no longer has it.
func TestBrowserStatsHistory(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	noNet := func() *container.HostConfig { return &container.HostConfig{NetworkMode: "none"} }
	burner, burnerName := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-cpu", "1", "-lines", "1", "-sleep", "10m"}, HostConfig: noNet()})
	holder, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-mem", "64", "-lines", "1", "-sleep", "10m"}, HostConfig: noNet()})
	short, shortName := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-cpu", "1", "-lines", "1", "-sleep", "10m"}, HostConfig: noNet()})

	srv := startServer(t, "--stats-every", "1s")
	requireUI(t, srv)
	time.Sleep(10 * time.Second)
	removeCounted(t, srv, eng, short)
	srv = restartServer(t, srv, 6*time.Second, "--stats-every", "1s")
	time.Sleep(8 * time.Second)

	b := openUI(t, srv, "/containers/Localhost/"+burner)
	b.waitSelector("the range picker", "#range-15m", uiTimeout)
	b.click("pick 15 minutes", "#range-15m")
	b.waitJS("the CPU chart shows the history's mean", uiTimeout,
		"(e => e && e.innerText.startsWith('mean'))(document.querySelector('#cpu-now'))", mainText)
	var lines int
	b.eval("CPU chart pieces", "document.querySelectorAll('svg.chart g.cpu polyline.line, svg.chart g.cpu circle.dot').length", &lines)
	if lines < 2 {
		t.Errorf("the CPU chart has %d pieces, want 2 or more: the restart's gap is not drawn", lines)
	}
	if u := b.text("#container-name"); !strings.Contains(u, burnerName) {
		t.Errorf("container page names %q, want %s", u, burnerName)
	}
	var pressed string
	b.eval("pressed range", "document.querySelector('#range-15m').getAttribute('aria-pressed')", &pressed)
	if pressed != "true" {
		t.Errorf("#range-15m aria-pressed %q, want true", pressed)
	}
	b.expectNoProblems("container page with a range")
	b.screenshots("container-history")

	b.navigate(srv.URL + "/")
	b.waitSelector("the burner among the top CPU consumers", `#top-cpu li[data-id="`+burner+`"]`, uiTimeout)
	b.waitSelector("the memory holder among the top memory consumers", `#top-mem li[data-id="`+holder+`"]`, uiTimeout)
	var firstCPU string
	b.eval("first by CPU", "document.querySelector('#top-cpu li').dataset.id", &firstCPU)
	if firstCPU != burner && firstCPU != short {
		t.Logf("first by CPU is %s, not one of this test's burners (the engine is shared)", firstCPU)
	}
	b.waitSelector("the burner's row in the list", `#containers tr[data-id="`+burner+`"]`, uiTimeout)
	b.expectNoProblems("overview with top consumers")
	b.screenshots("overview-top")

	b.navigate(srv.URL + "/events?since=1h&event=die&event=destroy")
	link := `#events-table tr[data-action="destroy"] a.history-link[href*="` + short + `"]`
	b.waitJS("the removed container's stats history link", uiTimeout, "document.querySelector("+jsString(link)+") !== null",
		`document.querySelector('#conn-state').dataset.state + ' ' + document.querySelector('main').innerText.slice(0, 1500)`)
	// The page asks the engine first; its 404 is how it learns the
	// container is gone.
	b.allow(`404 \(Not Found\) \(\S+/api/v1/containers/` + short + `\?host=Localhost\)`)
	b.click("follow it", link)
	b.waitSelector("the removed container's notice", "#gone-notice", uiTimeout)
	b.waitJS("the removed container's history", uiTimeout,
		"(e => e && e.innerText.startsWith('mean'))(document.querySelector('#cpu-now'))", mainText)
	if got := b.text("#container-name"); !strings.Contains(got, shortName) {
		t.Errorf("the removed container's page names %q, want %s", got, shortName)
	}
	b.expectNoProblems("removed container's page")
	b.screenshots("container-removed")
}
