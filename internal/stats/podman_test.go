package stats

import (
	"context"
	"encoding/json"
	"errors"
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
	burner, _ := testenv.Run(t, pc, testenv.RunOptions{Args: []string{"-cpu", "1", "-lines", "1", "-sleep", "5m"},
		HostConfig: &container.HostConfig{Resources: container.Resources{NanoCPUs: 5e8}}})
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

	// Over the same window, bounded by two `podman stats` samples (each
	// stamped with the moment Podman read the cgroup): the average of the
	// frames each source sent for that window, against the CPU time and
	// memory Podman reports. The burner is capped at half a core, so its
	// share stays put while other tests load the machine. The engine
	// source's figures change every 5 s, Podman's pace, so its frames are
	// taken over a longer window than the cgroup source's 1 s ones.
	before := podmanStats(t, p)
	var cpu [2]float64
	var frames [2]int
	var mem [2]uint64
	var sent [2][]wire.Stats
	for end := time.Now().Add(12 * time.Second); time.Now().Before(end); {
		for i, w := range []*Watch{we, wa} {
			for _, f := range next(t, w, 10*time.Second) {
				var s wire.Stats
				if err := json.Unmarshal(f, &s); err != nil {
					t.Fatal(err)
				}
				if s.HostID != "podman" {
					t.Errorf("frame of %s on a podman-only query", s.HostID)
				}
				sent[i] = append(sent[i], s)
			}
		}
	}
	after := podmanStats(t, p)
	b, a := before[burner[:12]], after[burner[:12]]
	burnerCPU := float64(a.cpuTime-b.cpuTime) / float64(a.at.Sub(b.at)) * 100
	holderMem := after[holder[:12]].mem
	for i, lead := range []time.Duration{5 * time.Second, time.Second} {
		for _, s := range sent[i] {
			switch {
			case s.ID == holder:
				mem[i] = s.MemoryBytes
			case s.ID == burner && s.Timestamp.After(b.at.Add(lead)) && !s.Timestamp.After(a.at):
				cpu[i] += s.CPUUsage
				frames[i]++
			}
		}
	}
	for i, name := range []string{"engine", "cgroup"} {
		if frames[i] == 0 {
			t.Errorf("%s source: no frame of the burner between %v and %v", name, b.at, a.at)
			continue
		}
		avg := cpu[i] / float64(frames[i])
		t.Logf("%s source: burner %.1f %% over %d frames (podman stats: %.1f %% over %v), holder %.1f MiB (podman stats %.1f MiB)",
			name, avg, frames[i], burnerCPU, a.at.Sub(b.at).Round(time.Millisecond), mib(mem[i]), mib(holderMem))
		if avg < 15 || avg > 65 || math.Abs(avg-burnerCPU) > 15 {
			t.Errorf("%s source: burner at %.1f %%, podman stats says %.1f %%", name, avg, burnerCPU)
		}
		if m := mib(mem[i]); m < 63 || m > 80 || math.Abs(m-mib(holderMem)) > 4 {
			t.Errorf("%s source: holder uses %.1f MiB, podman stats says %.1f MiB", name, m, mib(holderMem))
		}
	}

	// The sampler behind the history and /metrics reads Podman's one-shot
	// stats when it uses the engine: its CPU figure too is the burner's
	// half core, not a share of the host's busy time.
	smp, err := byEngine.NewSampler(SamplerOptions{Every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rounds := make(rounds, 8)
	ctx, cancel := context.WithCancel(context.Background())
	sampled := make(chan error, 1)
	go func() { sampled <- smp.Run(ctx, rounds) }()
	var oneShots []float64
	for len(oneShots) < 3 {
		select {
		case r := <-rounds:
			for _, s := range r.Samples {
				if s.Host == "podman" && s.ID == burner {
					oneShots = append(oneShots, s.Usage.CPUPercent)
				}
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the sampler took %d samples of the burner in 30 s", len(oneShots))
		}
	}
	cancel()
	if err := <-sampled; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("sampler: %v", err)
	}
	t.Logf("sampler, engine source: burner %.1f %%", oneShots)
	for _, v := range oneShots {
		if v < 15 || v > 65 {
			t.Errorf("sampler, engine source: burner capped at half a core sampled at %.1f %%", v)
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

// rounds hands a sampler's rounds to the test.
type rounds chan Round

// Record implements Recorder.
func (r rounds) Record(ctx context.Context, round Round) error {
	select {
	case r <- round:
	case <-ctx.Done():
	}
	return nil
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
	at      time.Time     // when Podman read them
	cpuTime time.Duration // CPU used since the container started
	mem     uint64        // bytes
}

// podmanStats is `podman stats --no-stream` for every running container,
// by short ID, with the moment of each reading (Podman's SystemNano is the
// wall clock when it read the cgroup), since the command itself takes a
// while on a busy machine.
func podmanStats(t *testing.T, p *testenv.PodmanEngine) map[string]podmanFigures {
	t.Helper()
	out := p.Output(t, "stats", "--no-stream", "--format", "{{.ID}}\t{{.CPUNano}}\t{{.SystemNano}}\t{{.MemUsage}}")
	figures := make(map[string]podmanFigures)
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		f := strings.Split(strings.TrimSpace(line), "\t")
		if len(f) != 4 {
			t.Fatalf("podman stats line %q: want 4 fields", line)
		}
		cpu, err1 := strconv.ParseUint(f[1], 10, 64)
		at, err2 := strconv.ParseInt(f[2], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("podman stats line %q: %v", line, err)
		}
		used, _, _ := strings.Cut(f[3], " / ")
		figures[f[0]] = podmanFigures{at: time.Unix(0, at), cpuTime: time.Duration(cpu), mem: decimalBytes(t, used)}
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
