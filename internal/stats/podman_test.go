package stats

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestPodmanStats collects a container burning one core and one holding
// 64 MiB on Podman, beside Docker, with the engine source (Podman's stats
// API) and with auto (which picks the cgroup files, readable for a rootful
// Podman on this host), and compares both with `podman stats`. Health seen
// in Podman's events outlives the next listing, which does not show it.
func TestPodmanStats(t *testing.T) {
	p := testenv.Podman(t)
	pc := p.Client()
	host := docker.HostConfig{Name: "podman", URL: p.URL()}
	burner, _ := testenv.Run(t, pc, testenv.RunOptions{Args: []string{"-cpu", "1", "-lines", "1", "-sleep", "5m"}})
	holder, _ := testenv.Run(t, pc, testenv.RunOptions{Args: []string{"-mem", "64", "-lines", "1", "-sleep", "5m"},
		Healthcheck: &container.HealthConfig{Test: []string{"CMD", testenv.HelperPath, "-lines", "0"}, Interval: time.Hour}})
	testenv.WaitLog(t, pc, burner, "line 1")
	testenv.WaitLog(t, pc, holder, "line 1")

	byEngine := startCollector(t, Options{Source: SourceEngine}, host)
	byAuto := startCollector(t, Options{}, host)
	q := Query{Host: "podman", Interval: time.Second}
	we, err := byEngine.Subscribe(q)
	if err != nil {
		t.Fatal(err)
	}
	defer we.Close()
	wa, err := byAuto.Subscribe(q)
	if err != nil {
		t.Fatal(err)
	}
	defer wa.Close()
	busy := func(s wire.Stats) bool { return s.State == "running" && s.CPUUsage > 0 }
	waitStats(t, we, burner, 30*time.Second, busy)
	waitStats(t, wa, burner, 30*time.Second, busy)
	if k := byEngine.SourceKind("podman", burner); k != SourceEngine {
		t.Errorf("engine collector uses %q", k)
	}
	if k := byAuto.SourceKind("podman", burner); k != SourceCgroup {
		t.Errorf("auto picked %q for a rootful Podman's container on this host, want the cgroup files", k)
	}

	// Over the same few seconds: every frame of both sources, averaged, and
	// the CPU time and memory `podman stats` reports at either end (its CPU
	// percent is an average over the container's life). The engine
	// source's figures change every 5 s, Podman's pace.
	before, start := podmanStats(t, p), time.Now()
	var cpu [2]float64
	var frames [2]int
	var mem [2]uint64
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); {
		for i, w := range []*Watch{we, wa} {
			for _, f := range next(t, w, 10*time.Second) {
				var s wire.Stats
				if err := json.Unmarshal(f, &s); err != nil {
					t.Fatal(err)
				}
				if s.HostID != "podman" {
					t.Errorf("frame of %s on a podman-only query", s.HostID)
				}
				switch s.ID {
				case burner:
					cpu[i] += s.CPUUsage
					frames[i]++
				case holder:
					mem[i] = s.MemoryBytes
				}
			}
		}
	}
	after, elapsed := podmanStats(t, p), time.Since(start)
	burnerCPU := float64(after[burner[:12]].cpuTime-before[burner[:12]].cpuTime) / float64(elapsed) * 100
	holderMem := after[holder[:12]].mem
	for i, name := range []string{"engine", "cgroup"} {
		avg := cpu[i] / float64(max(frames[i], 1))
		t.Logf("%s source: burner %.1f %% (podman stats: %.1f %% over the same time), holder %.1f MiB (podman stats %.1f MiB)",
			name, avg, burnerCPU, mib(mem[i]), mib(holderMem))
		// The two podman calls bound the window only roughly (each
		// takes a while), and the burner's share of two busy cores
		// moves: hence the margin.
		if avg < 15 || avg > 130 || math.Abs(avg-burnerCPU) > 30 {
			t.Errorf("%s source: burner at %.1f %%, podman stats says %.1f %%", name, avg, burnerCPU)
		}
		if m := mib(mem[i]); m < 63 || m > 80 || math.Abs(m-mib(holderMem)) > 4 {
			t.Errorf("%s source: holder uses %.1f MiB, podman stats says %.1f MiB", name, m, mib(holderMem))
		}
	}

	p.Output(t, "healthcheck", "run", holder)
	waitFor(t, "the health status from the event", func() bool { return healthIn(byAuto, holder) == "healthy" })
	if err := byAuto.list(context.Background(), byAuto.hosts["podman"]); err != nil {
		t.Fatal(err)
	}
	if h := healthIn(byAuto, holder); h != "healthy" {
		t.Errorf("after a listing, health %q, want healthy", h)
	}
}

// healthIn is the health the collector's inventory holds for container id.
func healthIn(c *Collector, id string) string {
	_, known := c.snapshot()
	for _, ct := range known {
		if ct.ID == id {
			return ct.Health
		}
	}
	return ""
}

// podmanFigures are `podman stats` figures of one container.
type podmanFigures struct {
	cpuTime time.Duration // CPU used since the container started
	mem     uint64        // bytes
}

// podmanStats is `podman stats --no-stream` for every running container,
// by short ID.
func podmanStats(t *testing.T, p *testenv.PodmanEngine) map[string]podmanFigures {
	t.Helper()
	out := p.Output(t, "stats", "--no-stream", "--format", "json")
	var rows []struct {
		ID       string `json:"id"`
		CPUTime  string `json:"cpu_time"`
		MemUsage string `json:"mem_usage"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("podman stats: %v: %s", err, out)
	}
	figures := make(map[string]podmanFigures, len(rows))
	for _, r := range rows {
		cpu, err := time.ParseDuration(r.CPUTime)
		if err != nil {
			t.Fatalf("podman stats cpu time %q: %v", r.CPUTime, err)
		}
		used, _, _ := strings.Cut(r.MemUsage, " / ")
		figures[r.ID] = podmanFigures{cpuTime: cpu, mem: decimalBytes(t, used)}
	}
	return figures
}

// decimalBytes reads a size as podman prints it ("67.22MB", "512kB").
func decimalBytes(t *testing.T, s string) uint64 {
	t.Helper()
	for _, u := range []struct {
		suffix string
		factor float64
	}{{"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil {
				t.Fatalf("podman size %q: %v", s, err)
			}
			return uint64(v * u.factor)
		}
	}
	t.Fatalf("podman size %q: unknown unit", s)
	return 0
}
