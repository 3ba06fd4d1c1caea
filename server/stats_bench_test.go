package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// Load of BenchmarkStatsLoad: the figures. BENCH_STATS_CONTAINERS,
// BENCH_STATS_WINDOW and BENCH_STATS_ROUNDS lower them for a quick check.
const (
	loadContainers = 50
	loadClients    = 100
	loadWindow     = 30 * time.Second
	loadRounds     = 3
)

// BenchmarkStatsLoad measures, with 50 running helper containers and 100
// /docker/stats clients at a 1 s interval: the CPU time crowsnest spends
// per container sample with each source, its resident memory, and the CPU
// time of the engine's own processes (dockerd, containerd, the shims) with
// each source and with no stats reader at all (idle). Idle, engine-source
// and cgroup-source windows of 30 s alternate for 3 rounds, each round in
// another order, so neither source always comes first after the starts or
// last on a tiring engine; the figures are medians over the rounds, and
// the engine's cost of a source is its CPU above the same round's idle.
// Run it alone, once:
//
//	go test -run '^$' -bench BenchmarkStatsLoad -benchtime 1x -timeout 30m ./server
func BenchmarkStatsLoad(b *testing.B) {
	if testing.Short() {
		b.Skip("BenchmarkStatsLoad takes minutes; skipped under -short")
	}
	containers := benchEnvInt(b, "BENCH_STATS_CONTAINERS", loadContainers)
	rounds := benchEnvInt(b, "BENCH_STATS_ROUNDS", loadRounds)
	window := loadWindow
	if v := os.Getenv("BENCH_STATS_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("BENCH_STATS_WINDOW=%q: want a positive duration", v)
		}
		window = d
	}
	cli := testenv.Engine(b)
	_, runID := testenv.Label(b)
	b.Logf("starting %d helper containers", containers)
	for range containers {
		testenv.Run(b, cli, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "1h"}})
	}
	filter := "cn-test-" + runID + "-"
	orders := [][]string{{"idle", "engine", "cgroup"}, {"engine", "cgroup", "idle"}, {"cgroup", "idle", "engine"}}
	var per map[string][]loadFigures
	for b.Loop() {
		per = map[string][]loadFigures{}
		for r := range rounds {
			for _, source := range orders[r%len(orders)] {
				time.Sleep(3 * time.Second) // let the engine wind the last window's collectors down
				per[source] = append(per[source], measureLoad(b, source, filter, containers, window))
			}
		}
	}
	c := float64(containers)
	idle := medianOf(per["idle"], func(m loadFigures) float64 { return m.enginePct })
	b.ReportMetric(idle, "engine-%core/idle")
	above := map[string]float64{}
	for _, source := range []string{"engine", "cgroup"} {
		ms := per[source]
		for i, m := range ms {
			b.Logf("round %d, %s source: crowsnest %.3f %% of a core per container (%.0f µs per sample, %d samples), engine processes %.2f %% of a core (idle %.2f %%), RSS %.1f MiB",
				i+1, source, m.crowsnestPct/c, m.perSample.Seconds()*1e6, m.samples, m.enginePct, per["idle"][i].enginePct, m.rssMiB)
		}
		// Each round's engine CPU above that round's idle, per container.
		aboveIdle := make([]float64, len(ms))
		for i, m := range ms {
			aboveIdle[i] = (m.enginePct - per["idle"][i].enginePct) / c
		}
		above[source] = median(aboveIdle)
		b.ReportMetric(medianOf(ms, func(m loadFigures) float64 { return m.crowsnestPct / c }), "crowsnest-%core/container/"+source)
		b.ReportMetric(medianOf(ms, func(m loadFigures) float64 { return float64(m.perSample.Nanoseconds()) }), "crowsnest-ns/sample/"+source)
		b.ReportMetric(medianOf(ms, func(m loadFigures) float64 { return m.enginePct }), "engine-%core/"+source)
		b.ReportMetric(above[source], "engine-above-idle-%core/container/"+source)
		b.ReportMetric(medianOf(ms, func(m loadFigures) float64 { return m.rssMiB }), "crowsnest-RSS-MiB/"+source)
	}
	b.ReportMetric(float64(rounds), "rounds")
	// The cgroup source's engine cost as a fraction of the engine
	// source's: finite as long as the engine source costs anything, and at
	// or below 0 when the cgroup source's cost is lost in the idle noise.
	if above["engine"] > 0 {
		b.ReportMetric(above["cgroup"]/above["engine"], "cgroup/engine-above-idle")
	} else {
		b.Errorf("the engine source added no engine CPU above idle (%.4f %% per container): the comparison has no meaning on this run", above["engine"])
	}
}

// benchEnvInt is the positive integer in the environment variable name, or
// def when it is unset.
func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

func medianOf(ms []loadFigures, f func(loadFigures) float64) float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	return median(v)
}

// loadFigures are one source's measurements.
type loadFigures struct {
	source       string
	crowsnestPct float64 // % of one core, whole process
	perSample    time.Duration
	samples      int64
	enginePct    float64
	rssMiB       float64
}

// measureLoad runs crowsnest with source in a child process, connects the
// clients, waits for every container to be streaming, and measures over
// window. The source "idle" runs no crowsnest: only the engine's CPU is
// measured, with the containers running and no stats reader.
func measureLoad(b *testing.B, source, filter string, containers int, window time.Duration) loadFigures {
	b.Helper()
	if source == "idle" {
		e0, t0 := engineCPU(b), time.Now()
		time.Sleep(window)
		return loadFigures{source: source, enginePct: (engineCPU(b) - e0).Seconds() / time.Since(t0).Seconds() * 100}
	}
	addr := freeAddr(b)
	args := []string{"--addr", addr, "--data", b.TempDir(), "--log-level", "warn", "--stats-source", source,
		"--max-streams", "0", "--request-rate", "0"}
	cmd := childCommand(args)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting crowsnest: %v", err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt) // graceful stop; Wait reports a failure
		if err := cmd.Wait(); err != nil {
			b.Errorf("crowsnest (%s source) ended with %v", source, err)
		}
	}()
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("crowsnest did not start")
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var frames atomic.Int64
	var wg sync.WaitGroup
	seen := make([]sync.Map, 1) // containers client 0 has seen
	for i := range loadClients {
		conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/docker/stats?interval=1s&container="+filter, nil)
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		wg.Go(func() {
			defer conn.CloseNow()
			for {
				_, data, err := conn.Read(ctx)
				if err != nil {
					return
				}
				frames.Add(1)
				if i == 0 {
					if id, ok := frameID(data); ok {
						seen[0].Store(id, true)
					}
				}
			}
		})
	}
	defer wg.Wait()
	defer cancel()
	for deadline := time.Now().Add(60 * time.Second); countMap(&seen[0]) < containers; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%s source: only %d of %d containers streaming", source, countMap(&seen[0]), containers)
		}
	}
	time.Sleep(2 * time.Second) // past the start-up work

	pid := cmd.Process.Pid
	cpu0, eng0 := procCPU(b, pid), engineCPU(b)
	f0, t0 := frames.Load(), time.Now()
	time.Sleep(window)
	cpu1, eng1 := procCPU(b, pid), engineCPU(b)
	f1, elapsed := frames.Load(), time.Since(t0)
	rss := procRSS(b, pid)

	samples := (f1 - f0) / loadClients // container samples each client got
	m := loadFigures{
		source:       source,
		crowsnestPct: (cpu1 - cpu0).Seconds() / elapsed.Seconds() * 100,
		samples:      samples,
		enginePct:    (eng1 - eng0).Seconds() / elapsed.Seconds() * 100,
		rssMiB:       float64(rss) / (1 << 20),
	}
	if samples > 0 {
		m.perSample = (cpu1 - cpu0) / time.Duration(samples)
	}
	return m
}

// frameID pulls the "id" of a stats frame without a full decode.
func frameID(data []byte) (string, bool) {
	s := string(data)
	i := strings.Index(s, `"id":"`)
	if i < 0 {
		return "", false
	}
	s = s[i+6:]
	j := strings.IndexByte(s, '"')
	return s[:j], j > 0
}

func countMap(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

// procCPU is a process's user and system CPU time, from /proc/<pid>/stat
// (fields 14 and 15, in clock ticks of 1/100 s).
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	d, err := procCPUErr(pid)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func procCPUErr(pid int) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ")".
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseUint(fields[11], 10, 64)
	k, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return time.Duration(u+k) * 10 * time.Millisecond, nil
}

// engineCPU sums the CPU time of the engine's processes: dockerd,
// containerd and every containerd-shim.
func engineCPU(tb testing.TB) time.Duration {
	tb.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	var total time.Duration
	found := false
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue // gone meanwhile
		}
		name := strings.TrimSpace(string(comm))
		if name != "dockerd" && name != "containerd" && !strings.HasPrefix(name, "containerd-shim") {
			continue
		}
		if d, err := procCPUErr(pid); err == nil {
			total += d
			found = found || name == "dockerd"
		}
	}
	if !found {
		tb.Fatal("no dockerd process visible in /proc: the engine's cost cannot be measured here")
	}
	return total
}

// procRSS is a process's resident memory in bytes (VmRSS).
func procRSS(tb testing.TB, pid int) uint64 {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.Fields(v)[0], 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}
