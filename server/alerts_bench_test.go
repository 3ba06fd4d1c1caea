package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Load of BenchmarkAlertLogRules: the figures. BENCH_ALERTS_WINDOW
// shortens the measurement for a quick check.
const (
	alertLogContainers = 50
	alertLogEvery      = 50 * time.Millisecond // 20 lines/s each, 1,000 in all
	alertLogWindow     = 20 * time.Second
	alertLogRounds     = 3
)

// BenchmarkAlertLogRules measures the CPU crowsnest spends, in a process
// of its own, while four log rules watch 50 containers writing 1,000
// lines/s in all: one engine follow per container, every line evaluated
// against every rule. One rule fires once per container, at the start,
// then cools down; the others never match, as most lines match no rule.
// It also reports the lines the containers actually wrote per second, so
// a loaded engine that writes fewer is seen. Windows of crowsnest and of
// the floor (floorLogRules: the same follows and rules, hand-written, in
// this process) alternate for alertLogRounds rounds. Run it alone, once:
//
//	go test -run '^$' -bench BenchmarkAlertLogRules -benchtime 1x ./server
func BenchmarkAlertLogRules(b *testing.B) {
	if testing.Short() {
		b.Skip("BenchmarkAlertLogRules takes a minute; skipped under -short")
	}
	window := alertLogWindow
	if v := os.Getenv("BENCH_ALERTS_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("BENCH_ALERTS_WINDOW=%q: want a positive duration", v)
		}
		window = d
	}
	cli := testenv.Engine(b)
	key, value := testenv.Label(b)
	b.Logf("starting %d helper containers", alertLogContainers)
	ids := make([]string, alertLogContainers)
	for i := range ids {
		ids[i], _ = testenv.Run(b, cli, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", alertLogEvery.String()}})
	}

	addr := freeAddr(b)
	args := []string{"--addr", addr, "--data", b.TempDir(), "--log-level", "warn", "--request-rate", "0"}
	cmd := childCommand(args)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting crowsnest: %v", err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			b.Errorf("crowsnest ended with %v", err)
		}
	}()
	srv := &liveServer{t: b, URL: "http://" + addr}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(srv.URL + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("crowsnest did not start")
		}
	}
	filters := json.RawMessage(`{"label":["` + key + "=" + value + `"]}`)
	for i, when := range []string{
		`line matches "(?i)\\b(error|panic|fatal)\\b"`, // the log preset
		`line contains "OOPS" || line contains "Traceback"`,
		`stream == "stderr"`,
		`line matches "line [0-9]*7$"`, // fires once per container, then cools down
	} {
		r := wire.AlertRule{Name: "bench " + strconv.Itoa(i), Enabled: true, Kind: wire.AlertKindLog, Filters: filters,
			When: when, Cooldown: wire.Duration(time.Hour)}
		mustAPI(b, srv, "POST", "/api/v1/alerts", r, nil, http.StatusCreated)
	}
	for deadline := time.Now().Add(time.Minute); metricValue(b, srv, "crowsnest_container_log_follows") < alertLogContainers; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%v of %d containers followed after a minute", metricValue(b, srv, "crowsnest_container_log_follows"), alertLogContainers)
		}
	}
	time.Sleep(3 * time.Second) // past the start-up work and the first firings

	// Windows of crowsnest and of the floor alternate; the figures are
	// medians over the rounds.
	var pcts, floors, rates []float64
	for b.Loop() {
		for range alertLogRounds {
			pid := cmd.Process.Pid
			lines0, cpu0, t0 := linesWritten(b, cli, ids), procCPU(b, pid), time.Now()
			time.Sleep(window)
			lines1, cpu1, elapsed := linesWritten(b, cli, ids), procCPU(b, pid), time.Since(t0)
			pcts = append(pcts, (cpu1-cpu0).Seconds()/elapsed.Seconds()*100)
			rates = append(rates, float64(lines1-lines0)/elapsed.Seconds())
			floors = append(floors, floorLogRules(b, cli, ids, window))
		}
	}
	if n := metricValue(b, srv, "crowsnest_container_log_follows"); n != alertLogContainers {
		b.Errorf("%v containers followed at the end, want %d", n, alertLogContainers)
	}
	pct, floor := median(pcts), median(floors)
	b.ReportMetric(pct, "crowsnest-%core")
	b.ReportMetric(floor, "floor-%core")
	b.ReportMetric(pct/floor, "ratio")
	b.ReportMetric(median(rates), "lines/s")
}

// floorLogRules is the floor of BenchmarkAlertLogRules: this process
// follows every container with one goroutine and one engine stream each,
// splits the frames and checks each line against the same four rules,
// hand-written (the compiled regexps, strings.Contains, the stream). It
// returns this process's CPU over window as % of a core; the follows
// start and settle before the window.
func floorLogRules(b *testing.B, cli *client.Client, ids []string, window time.Duration) float64 {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var matches atomic.Int64
	errorLine := regexp.MustCompile(`(?i)\b(error|panic|fatal)\b`)
	seventh := regexp.MustCompile(`line [0-9]*7$`)
	rules := func(stream byte, line []byte) bool {
		return errorLine.Match(line) || bytes.Contains(line, []byte("OOPS")) || bytes.Contains(line, []byte("Traceback")) ||
			stream == 2 || seventh.Match(line)
	}
	for _, id := range ids {
		rc, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true,
			Timestamps: true, Since: strconv.FormatInt(time.Now().Unix(), 10)})
		if err != nil {
			cancel()
			b.Fatalf("floor: logs of %.12s: %v", id, err)
		}
		wg.Go(func() {
			defer rc.Close()
			r := bufio.NewReader(rc)
			var hdr [8]byte
			var buf []byte
			for {
				if _, err := io.ReadFull(r, hdr[:]); err != nil {
					return
				}
				buf = slices.Grow(buf[:0], int(binary.BigEndian.Uint32(hdr[4:])))[:binary.BigEndian.Uint32(hdr[4:])]
				if _, err := io.ReadFull(r, buf); err != nil {
					return
				}
				_, line, _ := bytes.Cut(bytes.TrimRight(buf, "\n"), []byte(" ")) // the timestamp
				if rules(hdr[0], line) {
					matches.Add(1)
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	time.Sleep(window)
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	cancel()
	wg.Wait()
	if matches.Load() == 0 {
		b.Errorf("floor: no line matched the rule of every tenth line: the floor read nothing")
	}
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	return cpu.Seconds() / elapsed.Seconds() * 100
}

// lastLine finds the helper's line number ("line N").
var lastLine = regexp.MustCompile(`line (\d+)\s*$`)

// linesWritten is the sum of the line numbers the containers printed last.
func linesWritten(b *testing.B, cli *client.Client, ids []string) int {
	b.Helper()
	total := 0
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, Tail: "1"})
		if err != nil {
			cancel()
			b.Fatalf("logs of %.12s: %v", id, err)
		}
		data, err := io.ReadAll(res)
		res.Close()
		cancel()
		if err != nil {
			b.Fatalf("logs of %.12s: %v", id, err)
		}
		m := lastLine.FindSubmatch(data)
		if m == nil {
			b.Fatalf("logs of %.12s: no line number in %q", id, data)
		}
		n, _ := strconv.Atoi(string(m[1]))
		total += n
	}
	return total
}
