package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Load of BenchmarkEngines: the figures. BENCH_ENGINES,
// BENCH_ENGINES_WINDOW and BENCH_ENGINES_SLEEPERS lower them for a quick
// check.
const (
	enginesCount    = 500
	enginesWindow   = 30 * time.Second
	enginesSettle   = 10 * time.Second
	enginesSleepers = 4
)

// BenchmarkEngines measures one crowsnest watching 500 engines: a local
// engine of its own (testenv.PrivateEngine, so nobody else's containers
// come and go on it) exposed on 500 loopback TCP ports (testenv.Ports),
// each port configured as a host of its own, so crowsnest keeps 500
// connections, event streams and liveness checks as for 500 remote
// engines.
// crowsnest runs in a process of its own (childCommand), twice:
//
//   - idle (--stats-every 1h, so no sampling round falls in the window):
//     the time from its start until every engine shows connected, then its
//     CPU over the window (as % of one core) and its RSS;
//   - sampling (--stats-every 10s) with a few sleeper containers running:
//     the history sampler's one-shot stats of every running container on
//     every engine, its CPU per round and per one-shot, and the most
//     connections open through the ports at once beyond those open before
//     (the sampler's requests among them are bounded by its Total).
//
// Run it alone, once:
//
//	go test -run '^$' -bench BenchmarkEngines -benchtime 1x -timeout 30m ./server
func BenchmarkEngines(b *testing.B) {
	if testing.Short() {
		b.Skip("BenchmarkEngines takes minutes; skipped under -short")
	}
	n := benchEnvInt(b, "BENCH_ENGINES", enginesCount)
	sleepers := benchEnvInt(b, "BENCH_ENGINES_SLEEPERS", enginesSleepers)
	window := benchEnvDuration(b, "BENCH_ENGINES_WINDOW", enginesWindow)
	// A private engine: the shared one's events (other tests' containers)
	// would reach crowsnest once per port and be measured as its idle cost.
	cli := testenv.PrivateEngine(b).Client()
	for range sleepers {
		testenv.Run(b, cli, testenv.RunOptions{Args: []string{"-sleep", "1h"}, HostConfig: &container.HostConfig{NetworkMode: "none"}})
	}
	ports := testenv.NewPorts(b, cli, n)
	var idle, sampling enginesFigures
	for b.Loop() {
		idle = measureEngines(b, cli, ports, "1h", window)
		sampling = measureEngines(b, cli, ports, "10s", window)
	}
	rounds := window.Seconds() / 10
	b.Logf("%d engines: all connected in %v; idle %.2f %% of a core, RSS %.0f MB, %d engine events in the window; sampling every 10 s: %.2f %% of a core, %d one-shot stats in %.0f rounds, at most %d connections open beyond those open before",
		n, idle.connected, idle.pct, idle.rssMB, idle.events, sampling.pct, sampling.oneShots, rounds, sampling.extraConns)
	b.ReportMetric(float64(n), "engines")
	b.ReportMetric(idle.connected.Seconds(), "connect-s")
	b.ReportMetric(idle.rssMB, "rss-MB")
	b.ReportMetric(idle.pct, "idle-%core")
	// Every container event of the shared engine reaches crowsnest once
	// per engine: others' containers starting in the window cost it that.
	b.ReportMetric(float64(idle.events)/window.Seconds(), "idle-engine-events/s")
	b.ReportMetric(sampling.rssMB, "sampling-rss-MB")
	b.ReportMetric(sampling.pct, "sampling-%core")
	b.ReportMetric(sampling.cpu.Seconds()*1e3/rounds, "sampling-cpu-ms/round")
	if sampling.oneShots > 0 {
		b.ReportMetric(float64(sampling.cpu.Microseconds())/float64(sampling.oneShots), "sampling-cpu-us/oneshot")
	}
	b.ReportMetric(float64(sampling.oneShots)/rounds, "oneshots/round")
	b.ReportMetric(float64(sampling.extraConns), "sampling-peak-conns")
}

// enginesFigures are one run's measurements.
type enginesFigures struct {
	connected  time.Duration // from the process's start until every engine is connected
	pct        float64       // CPU over the window, % of one core
	cpu        time.Duration // CPU over the window
	rssMB      float64       // RSS at the end of the window
	oneShots   int64         // one-shot stats requests over the window
	extraConns int64         // most connections open at once beyond those open before the window
	events     int           // container events the engine sent over the window
}

// measureEngines runs crowsnest on every port with --stats-every every,
// waits until each engine is connected and measures over window.
func measureEngines(b *testing.B, cli *client.Client, ports *testenv.Ports, every string, window time.Duration) enginesFigures {
	b.Helper()
	addr := freeAddr(b)
	args := []string{"--addr", addr, "--data", b.TempDir(), "--log-level", "warn", "--stats-every", every,
		"--stats-source", "engine"} // as on remote engines: the local one would read cgroup files
	for i, u := range ports.URLs {
		name := fmt.Sprintf("e%03d", i)
		if i == 0 {
			name = "Localhost" // so every engine is a TCP one
		}
		args = append(args, "--host", name+"="+u)
	}
	cmd := childCommand(args)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting crowsnest: %v", err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt) // graceful stop; Wait reports a failure
		if err := cmd.Wait(); err != nil {
			b.Errorf("crowsnest (--stats-every %s) ended with %v", every, err)
		}
	}()
	var f enginesFigures
	for deadline := start.Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if up := connectedHosts("http://" + addr); up == len(ports.URLs) {
			f.connected = time.Since(start)
			break
		} else if time.Now().After(deadline) {
			b.Fatalf("--stats-every %s: only %d of %d engines connected after 2 minutes", every, up, len(ports.URLs))
		}
	}
	time.Sleep(enginesSettle) // past the start-up work (inventories, first listings)
	pid := cmd.Process.Pid
	ports.ResetPeak()
	base := ports.Open()
	ectx, stop := context.WithCancel(context.Background())
	evs := cli.Events(ectx, client.EventsListOptions{Filters: make(client.Filters).Add("type", "container")})
	c0, s0, t0 := procCPU(b, pid), ports.Requests(), time.Now()
	for end := time.After(window); ; {
		select {
		case <-evs.Messages:
			f.events++
			continue
		case <-end:
		}
		break
	}
	stop()
	f.cpu, f.oneShots = procCPU(b, pid)-c0, ports.Requests()-s0
	f.pct = f.cpu.Seconds() / time.Since(t0).Seconds() * 100
	f.rssMB = float64(procRSS(b, pid)) / 1e6
	f.extraConns = ports.Peak() - base
	return f
}

// connectedHosts counts the engines GET /api/v1/hosts shows connected; 0
// while crowsnest does not answer yet.
func connectedHosts(base string) int {
	resp, err := http.Get(base + "/api/v1/hosts")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var hosts []wire.Host
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&hosts) != nil {
		return 0
	}
	up := 0
	for _, h := range hosts {
		if h.State == wire.HostConnected {
			up++
		}
	}
	return up
}

// benchEnvDuration is the positive duration in the environment variable
// name, or def when it is unset.
func benchEnvDuration(b *testing.B, name string, def time.Duration) time.Duration {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}
