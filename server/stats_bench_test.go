package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// Load of BenchmarkStatsLoad: the figures.
const (
	loadContainers = 50
	loadClients    = 100
	loadWindow     = 30 * time.Second
)

// childEnv carries the crowsnest flags of a benchmark child process.
const childEnv = "CROWSNEST_STATS_LOAD_CHILD"

// TestStatsLoadChild is not a test: BenchmarkStatsLoad runs the test binary
// again with only this function selected and childEnv set, so crowsnest
// runs in a process of its own whose CPU time and memory can be read
// apart from the benchmark's 100 clients. Without childEnv it does nothing.
func TestStatsLoadChild(t *testing.T) {
	args := os.Getenv(childEnv)
	if args == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, strings.Split(args, "\x1f"), os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "crowsnest:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// BenchmarkStatsLoad measures, with 50 running helper containers and 100
// /docker/stats clients at a 1 s interval, for 30 s with each source: the
// CPU time crowsnest spends per container sample, the CPU time of the
// engine's own processes (dockerd, containerd, the shims), and crowsnest's
// resident memory. Run it alone, once:
//
//	go test -run '^$' -bench BenchmarkStatsLoad -benchtime 1x -timeout 20m ./server
func BenchmarkStatsLoad(b *testing.B) {
	if testing.Short() {
		b.Skip("BenchmarkStatsLoad takes two minutes; skipped under -short")
	}
	cli := testenv.Engine(b)
	_, runID := testenv.Label(b)
	b.Logf("starting %d helper containers", loadContainers)
	for range loadContainers {
		testenv.Run(b, cli, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "1h"}})
	}
	filter := "cn-test-" + runID + "-"
	for i := 0; i < b.N; i++ {
		engine := measureLoad(b, "engine", filter)
		time.Sleep(3 * time.Second) // let the engine wind its collectors down
		cgroup := measureLoad(b, "cgroup", filter)
		// The engine's cost with the containers and no stats reader at all
		// (measured last: right after 50 starts the engine is still busy
		// settling): the shims and dockerd tick on their own, whatever
		// crowsnest does. Other users of a shared engine add noise to all
		// three figures.
		time.Sleep(3 * time.Second)
		e0, t0 := engineCPU(b), time.Now()
		time.Sleep(loadWindow)
		idle := (engineCPU(b) - e0).Seconds() / time.Since(t0).Seconds() * 100
		b.Logf("engine processes idle: %.2f %% of a core", idle)
		b.ReportMetric(idle, "engine-%core/idle")
		for _, m := range []loadFigures{engine, cgroup} {
			b.Logf("%s source: crowsnest %.3f %% of a core per container (%.0f µs per sample, %d samples), engine processes %.2f %% of a core, RSS %.1f MiB",
				m.source, m.crowsnestPct/loadContainers, m.perSample.Seconds()*1e6, m.samples, m.enginePct, m.rssMiB)
			b.ReportMetric(m.crowsnestPct/loadContainers, "crowsnest-%core/container/"+m.source)
			b.ReportMetric(float64(m.perSample.Nanoseconds()), "crowsnest-ns/sample/"+m.source)
			b.ReportMetric(m.enginePct, "engine-%core/"+m.source)
			b.ReportMetric(m.rssMiB, "crowsnest-RSS-MiB/"+m.source)
		}
		if cgroup.enginePct > 0 {
			b.ReportMetric(engine.enginePct/cgroup.enginePct, "engine-cost-ratio(engine/cgroup)")
		}
		// What reading stats adds to the engine's own idle cost; the floor
		// keeps the ratio finite when the cgroup source adds nothing
		// measurable (a tick of 10 ms over the window).
		floor := 1.0 / loadWindow.Seconds()
		added := max(engine.enginePct-idle, 0) / max(cgroup.enginePct-idle, floor)
		b.Logf("engine cost added by stats: engine source %.2f %%, cgroup source %.2f %% of a core (ratio %.1f)",
			engine.enginePct-idle, cgroup.enginePct-idle, added)
		b.ReportMetric(added, "engine-added-cost-ratio(engine/cgroup)")
	}
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
// clients, waits for every container to be streaming, and measures.
func measureLoad(b *testing.B, source, filter string) loadFigures {
	b.Helper()
	addr := freeAddr(b)
	args := []string{"--addr", addr, "--data", b.TempDir(), "--log-level", "warn", "--stats-source", source,
		"--max-streams", "0", "--request-rate", "0"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStatsLoadChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
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
	for deadline := time.Now().Add(60 * time.Second); countMap(&seen[0]) < loadContainers; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%s source: only %d of %d containers streaming", source, countMap(&seen[0]), loadContainers)
		}
	}
	time.Sleep(2 * time.Second) // past the start-up work

	pid := cmd.Process.Pid
	cpu0, eng0 := procCPU(b, pid), engineCPU(b)
	f0, t0 := frames.Load(), time.Now()
	time.Sleep(loadWindow)
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
