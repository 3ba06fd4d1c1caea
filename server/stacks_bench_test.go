package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// BenchmarkStackDeploy deploys a 10-service stack (the helper sleeping) per
// iteration and takes it down again. Reported: time to the "deployed"
// message, time until the engine shows every container running, /stacks
// messages per deploy, and this process's CPU time and peak RSS during the
// deploy (the test process holds the whole server, plus the small client).
func BenchmarkStackDeploy(b *testing.B) {
	if testing.Short() {
		b.Skip("deploys real containers")
	}
	eng := testenv.Engine(b)
	image := testenv.HelperImage(b)
	b.Cleanup(func() { testenv.RemoveAll(b, eng) })
	srv := startServer(b)
	ws := dialWS(b, srv.WS("/stacks"), nil)
	ws.nextStack(b, 5*time.Second)

	var toDeployed, toRunning, cpu time.Duration
	var msgs int
	var peak uint64
	for i := 0; b.Loop(); i++ {
		name := stackName(b, "bench"+strconv.Itoa(i))
		cleanupProject(b, eng, name)
		var st wire.Stack
		mustAPI(b, srv, "POST", "/api/v1/stacks", wire.StackRequest{Name: name, Compose: tenServices(b, image)}, &st, http.StatusCreated)
		base := "/api/v1/stacks/" + strconv.FormatInt(st.ID, 10)

		stopRSS := sampleRSS()
		cpu0 := cpuTime(b)
		start := time.Now()
		mustAPI(b, srv, "POST", base+"/deploy", nil, nil, http.StatusAccepted)
		got := ws.untilDone(b, st.ID, 3*time.Minute)
		toDeployed += time.Since(start)
		if last := got[len(got)-1]; last.Data.Status != wire.StackDeployed {
			b.Fatalf("deploy ended with %s", last)
		}
		msgs += len(got)
		waitAllRunning(b, eng, name, 10)
		toRunning += time.Since(start)
		cpu += cpuTime(b) - cpu0
		peak = max(peak, stopRSS())

		b.StopTimer()
		mustAPI(b, srv, "DELETE", base, nil, nil, http.StatusAccepted)
		ws.untilDone(b, st.ID, 3*time.Minute)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(toDeployed.Seconds()*1000/n, "ms-to-deployed")
	b.ReportMetric(toRunning.Seconds()*1000/n, "ms-to-all-running")
	b.ReportMetric(float64(msgs)/n, "msgs/deploy")
	b.ReportMetric(cpu.Seconds()*1000/n, "cpu-ms/deploy")
	b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
}

// tenServices is a compose file of ten helper services that sleep.
func tenServices(tb testing.TB, image string) string {
	key, run := testenv.Label(tb)
	var sb strings.Builder
	sb.WriteString("services:\n")
	for i := range 10 {
		fmt.Fprintf(&sb, "  s%d:\n    image: %s\n    command: [\"-lines\", \"1\", \"-sleep\", \"1h\"]\n    labels:\n      %s: %s\n", i, image, key, run)
	}
	return sb.String()
}

// waitAllRunning waits until n containers of project run.
func waitAllRunning(tb testing.TB, c *client.Client, project string, n int) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := c.ContainerList(tb.Context(), client.ContainerListOptions{
			Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+project).Add("status", "running"),
		})
		if err != nil {
			tb.Fatal(err)
		}
		if len(res.Items) >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d containers running after a minute", len(res.Items), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpuTime is the user plus system CPU time of this process so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampleRSS samples this process's resident memory every 10 ms until the
// returned function is called, which returns the largest sample in bytes.
// Sampling rather than VmHWM gives the peak of this deploy, not of the
// process's whole life.
func sampleRSS() func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := rss(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// rss reads VmRSS from /proc/self/status; 0 when unavailable.
func rss() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
