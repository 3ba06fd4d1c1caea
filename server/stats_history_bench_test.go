package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// Load of BenchmarkHistorySampling: the figures.
// BENCH_HISTORY_CONTAINERS and BENCH_HISTORY_WINDOW lower them for a
// quick check.
const (
	historyContainers = 200
	historyWindow     = 2 * time.Minute
	historyWarmup     = 25 * time.Second
)

// BenchmarkHistorySampling measures what the always-on sampling costs
// with 200 running containers (sleepers without a network) and nobody
// watching: crowsnest runs in a process of its own (childCommand)
// sampling every 10 s into its history, then again sampling every hour
// (no round falls in the window), and the difference of their CPU time
// over the same window is the sampling's own share, per container. The
// target (0.02 % of a core per container) is checked on the whole
// process's figure at 10 s, an upper bound that does not depend on two
// windows of a loaded machine agreeing. Run it alone, once:
//
//	go test -run '^$' -bench BenchmarkHistorySampling -benchtime 1x -timeout 30m ./server
func BenchmarkHistorySampling(b *testing.B) {
	if testing.Short() {
		b.Skip("BenchmarkHistorySampling takes minutes; skipped under -short")
	}
	n := benchEnvInt(b, "BENCH_HISTORY_CONTAINERS", historyContainers)
	window := historyWindow
	if v := os.Getenv("BENCH_HISTORY_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("BENCH_HISTORY_WINDOW=%q: want a positive duration", v)
		}
		window = d
	}
	cli := testenv.Engine(b)
	b.Logf("starting %d sleepers", n)
	for range n {
		testenv.Run(b, cli, testenv.RunOptions{Args: []string{"-sleep", "1h"}, HostConfig: &container.HostConfig{NetworkMode: "none"}})
	}
	var at10s, at1h time.Duration
	var dbBytes int64
	for b.Loop() {
		data := b.TempDir()
		at10s = sampleCPU(b, data, "10s", window)
		if fi, err := os.Stat(filepath.Join(data, "history.db")); err == nil {
			dbBytes = fi.Size()
		}
		at1h = sampleCPU(b, b.TempDir(), "1h", window)
	}
	pct := func(d time.Duration) float64 { return d.Seconds() / window.Seconds() * 100 / float64(n) }
	b.Logf("%d containers over %v: crowsnest %v CPU sampling every 10 s, %v every hour; history.db %d bytes", n, window, at10s, at1h, dbBytes)
	b.ReportMetric(pct(at10s-at1h), "sampling-%core/container")
	b.ReportMetric(pct(at10s), "crowsnest-%core/container")
	b.ReportMetric(float64(n), "containers")
}

// sampleCPU runs crowsnest sampling every every on data, lets it list the
// containers and sample a few rounds, and answers its CPU time over window.
func sampleCPU(b *testing.B, data, every string, window time.Duration) time.Duration {
	b.Helper()
	addr := freeAddr(b)
	args := []string{"--addr", addr, "--data", data, "--log-level", "warn", "--stats-every", every}
	cmd := childCommand(args)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting crowsnest: %v", err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt) // graceful stop; Wait reports a failure
		if err := cmd.Wait(); err != nil {
			b.Errorf("crowsnest (--stats-every %s) ended with %v", every, err)
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("crowsnest did not start")
		}
	}
	time.Sleep(historyWarmup) // the listing, the first rounds and their cgroup files opened
	c0 := procCPU(b, cmd.Process.Pid)
	time.Sleep(window)
	return procCPU(b, cmd.Process.Pid) - c0
}
