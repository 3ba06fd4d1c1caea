package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/moby/moby/client"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// engineSourceInterval is the viewer's interval in BenchmarkStatsEngineSource:
// the UI's default, twice the engine's own pace of one frame a second.
const engineSourceInterval = 2 * time.Second

// BenchmarkStatsEngineSource measures the engine source's program CPU per
// delivered sample against its fair floor, on 50 idle helper containers
// with one viewer watching all of them at the UI's default 2 s:
//
//   - crowsnest: a whole crowsnest in a process of its own
//     (childCommand) with --stats-source engine, and one
//     /docker/stats client; its CPU over the window divided by the samples
//     the client received;
//   - the floor: one goroutine per container in this process reading the
//     engine's stats stream and decoding each frame with encoding/json
//     into the few fields a sample uses, delivering nothing; its CPU over
//     the window divided by the samples a 2 s viewer would get (one frame
//     in two).
//
// The two take turns for 3 rounds of 30 s, in alternating order; the
// figures are medians. The engine's CPU over each window is reported
// beside them (the engine source should cost the engine no more than the
// floor's streams do). BENCH_STATS_CONTAINERS, BENCH_STATS_WINDOW and
// BENCH_STATS_ROUNDS lower the load for a quick check. Run it alone, once:
//
//	go test -run '^$' -bench BenchmarkStatsEngineSource -benchtime 1x -timeout 30m ./server
func BenchmarkStatsEngineSource(b *testing.B) {
	if testing.Short() {
		b.Skip("BenchmarkStatsEngineSource takes minutes; skipped under -short")
	}
	containers := benchEnvInt(b, "BENCH_STATS_CONTAINERS", loadContainers)
	rounds := benchEnvInt(b, "BENCH_STATS_ROUNDS", loadRounds)
	window := benchEnvDuration(b, "BENCH_STATS_WINDOW", loadWindow)
	cli := testenv.Engine(b)
	_, runID := testenv.Label(b)
	var ids []string
	for range containers {
		id, _ := testenv.Run(b, cli, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "1h"}})
		ids = append(ids, id)
	}
	filter := "cn-test-" + runID + "-"
	// The floor's client, as crowsnest's engine clients: without the moby
	// client's OpenTelemetry instrumentation.
	floorCli, err := client.New(client.FromEnv, client.WithAPIVersion(cli.ClientVersion()),
		client.WithTraceOptions(otelhttp.WithFilter(func(*http.Request) bool { return false })))
	if err != nil {
		b.Fatal(err)
	}
	defer floorCli.Close()
	var ours, floor []sourceFigures
	for b.Loop() {
		ours, floor = nil, nil
		for r := range rounds {
			runOurs := func() { ours = append(ours, measureEngineSource(b, filter, containers, window)) }
			runFloor := func() { floor = append(floor, measureEngineFloor(b, floorCli, ids, window)) }
			if r%2 == 0 {
				runOurs()
				runFloor()
			} else {
				runFloor()
				runOurs()
			}
		}
	}
	for i := range ours {
		b.Logf("round %d: crowsnest %.0f µs per sample (%d samples, engine %.2f %% of a core), floor %.0f µs per sample (%d samples, engine %.2f %%)",
			i+1, ours[i].usPerSample, ours[i].samples, ours[i].enginePct, floor[i].usPerSample, floor[i].samples, floor[i].enginePct)
	}
	us := medianSource(ours, func(f sourceFigures) float64 { return f.usPerSample })
	fl := medianSource(floor, func(f sourceFigures) float64 { return f.usPerSample })
	b.ReportMetric(us, "cpu-us/sample")
	b.ReportMetric(fl, "floor-cpu-us/sample")
	if fl > 0 {
		b.ReportMetric(us/fl, "ratio")
	}
	b.ReportMetric(medianSource(ours, func(f sourceFigures) float64 { return f.enginePct }), "engine-%core")
	b.ReportMetric(medianSource(floor, func(f sourceFigures) float64 { return f.enginePct }), "floor-engine-%core")
	b.ReportMetric(float64(containers), "containers")
}

// sourceFigures are one window's measurements.
type sourceFigures struct {
	usPerSample float64
	samples     int64
	enginePct   float64
}

func medianSource(fs []sourceFigures, f func(sourceFigures) float64) float64 {
	v := make([]float64, len(fs))
	for i, x := range fs {
		v[i] = f(x)
	}
	return median(v)
}

// measureEngineSource runs crowsnest with the engine source and one viewer
// of every container at engineSourceInterval, and measures over window.
func measureEngineSource(b *testing.B, filter string, containers int, window time.Duration) sourceFigures {
	b.Helper()
	addr := freeAddr(b)
	args := []string{"--addr", addr, "--data", b.TempDir(), "--log-level", "warn", "--stats-source", "engine",
		"--stats-every", "1h", "--max-streams", "0", "--request-rate", "0"}
	cmd := childCommand(args)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting crowsnest: %v", err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt) // graceful stop; Wait reports a failure
		if err := cmd.Wait(); err != nil {
			b.Errorf("crowsnest ended with %v", err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var conn *websocket.Conn
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		conn, _, err = websocket.Dial(ctx, "ws://"+addr+"/docker/stats?interval="+engineSourceInterval.String()+"&container="+filter, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("crowsnest did not start: %v", err)
		}
	}
	defer conn.CloseNow()
	var frames atomic.Int64
	var seen sync.Map
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			frames.Add(1)
			if id, ok := frameID(data); ok {
				seen.Store(id, true)
			}
		}
	})
	for deadline := time.Now().Add(60 * time.Second); countMap(&seen) < containers; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d containers streaming", countMap(&seen), containers)
		}
	}
	time.Sleep(2 * engineSourceInterval) // past the sources' start
	pid := cmd.Process.Pid
	c0, e0, f0, t0 := procCPU(b, pid), engineCPU(b), frames.Load(), time.Now()
	time.Sleep(window)
	c1, e1, f1, elapsed := procCPU(b, pid), engineCPU(b), frames.Load(), time.Since(t0)
	return figuresOf(c1-c0, e1-e0, f1-f0, elapsed)
}

func figuresOf(cpu, engine time.Duration, samples int64, elapsed time.Duration) sourceFigures {
	f := sourceFigures{samples: samples, enginePct: engine.Seconds() / elapsed.Seconds() * 100}
	if samples > 0 {
		f.usPerSample = float64(cpu.Microseconds()) / float64(samples)
	}
	return f
}

// floorFrame is what the floor decodes of each frame: the fields a sample
// uses (CPU, memory, PIDs, network and block I/O counters).
type floorFrame struct {
	Read     time.Time `json:"read"`
	CPUStats struct {
		CPUUsage struct {
			TotalUsage uint64 `json:"total_usage"`
		} `json:"cpu_usage"`
		SystemUsage uint64 `json:"system_cpu_usage"`
		OnlineCPUs  uint32 `json:"online_cpus"`
	} `json:"cpu_stats"`
	MemoryStats struct {
		Usage uint64 `json:"usage"`
		Limit uint64 `json:"limit"`
		Stats struct {
			InactiveFile uint64 `json:"inactive_file"`
		} `json:"stats"`
	} `json:"memory_stats"`
	PidsStats struct {
		Current uint64 `json:"current"`
	} `json:"pids_stats"`
	Networks map[string]struct {
		RxBytes uint64 `json:"rx_bytes"`
		TxBytes uint64 `json:"tx_bytes"`
	} `json:"networks"`
	BlkioStats struct {
		IoServiceBytesRecursive []struct {
			Op    string `json:"op"`
			Value uint64 `json:"value"`
		} `json:"io_service_bytes_recursive"`
	} `json:"blkio_stats"`
}

// measureEngineFloor runs the floor in this process over window: one
// goroutine per container decoding its engine stats stream.
func measureEngineFloor(b *testing.B, cli *client.Client, ids []string, window time.Duration) sourceFigures {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var decoded atomic.Int64
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			res, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: true})
			if err != nil {
				return
			}
			defer res.Body.Close()
			dec := json.NewDecoder(res.Body)
			for {
				var f floorFrame
				if dec.Decode(&f) != nil {
					return
				}
				decoded.Add(1)
			}
		})
	}
	time.Sleep(2 * engineSourceInterval) // every stream open and sending
	pid := os.Getpid()
	c0, e0, d0, t0 := procCPU(b, pid), engineCPU(b), decoded.Load(), time.Now()
	time.Sleep(window)
	c1, e1, d1, elapsed := procCPU(b, pid), engineCPU(b), decoded.Load(), time.Since(t0)
	cancel()
	wg.Wait()
	if d1 == d0 {
		b.Fatal("the floor decoded no frame")
	}
	// A viewer at engineSourceInterval gets one sample per that many frames.
	perSample := int64(engineSourceInterval / time.Second)
	return figuresOf(c1-c0, e1-e0, (d1-d0)/perSample, elapsed)
}
