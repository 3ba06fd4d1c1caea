package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Load of the paced fan-out benchmarks against the real binary: the issues'
// figures (100 events/s to 1,000 clients), for a few seconds.
const (
	paceClients  = 1000
	paceRate     = 100 // events per second
	paceDuration = 5 * time.Second
	// paceDrain bounds the wait for the last events to arrive.
	paceDrain = 15 * time.Second
)

// benchBinaryArgs run the real binary with no limits and an engine address
// that does not exist, so no engine is needed and nothing but the posted
// events flows: the store, the API and the streams work without an engine.
var benchBinaryArgs = []string{"--max-streams", "0", "--request-rate", "0",
	"--host", "Localhost=unix:///nonexistent/docker.sock"}

// BenchmarkEventsSSE measures SSE fan-out on /api/v1/events/stream of the
// real binary (a child process, so its RSS is its own): 1,000 clients in
// the test process, 100 events/s posted through POST /api/v1/events with
// timestamp = send time. Reported: receive latency p50/p99 (post to client:
// it includes the durable commit, whose own p50 is post-p50-ms),
// delivered/expected, and the server's peak RSS.
func BenchmarkEventsSSE(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000 streams against the real binary; skipped under -short")
	}
	benchPacedBinary(b, dialSSEClients, ssePostBody)
}

// pacedResult are the figures of one paced run.
type pacedResult struct {
	p50, p99, postP50 time.Duration
	delivered, want   int64
	peakRSS           int64
	// CPU of the server process and of this process (the clients and the
	// poster), in % of one core over the run: on 2 cores, 200 is all.
	serverCPU, clientCPU float64
}

func (r pacedResult) report(b *testing.B) {
	b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(r.postP50.Microseconds())/1000, "post-p50-ms")
	b.ReportMetric(float64(r.delivered)/float64(r.want), "delivered/expected")
	b.ReportMetric(float64(r.peakRSS)/(1<<20), "rss-MB")
	b.ReportMetric(r.serverCPU, "server-cpu-%")
	b.ReportMetric(r.clientCPU, "clients-cpu-%")
}

// streamClients are n connected stream readers; each records the latency of
// every event it receives, read from the event itself.
type streamClients struct {
	received  atomic.Int64
	mu        sync.Mutex
	latencies []time.Duration
	wg        sync.WaitGroup
	close     func()
}

func (c *streamClients) add(local []time.Duration) {
	c.mu.Lock()
	c.latencies = append(c.latencies, local...)
	c.mu.Unlock()
}

// dialer connects n clients to a server and returns once every one of them
// is subscribed, so each is owed every event posted afterwards.
type dialer func(b *testing.B, base string, n int) *streamClients

// bodyFunc is the POST body of an event stamped with sent.
type bodyFunc func(i int, sent time.Time) []byte

// benchPacedBinary runs pacedFanout against a fresh real binary per
// iteration, at 100 clients and at paceClients: 100 beside the 1,000 of the
// target tell a load-bound latency (CPU saturated) from a fixed delay in
// the path.
func benchPacedBinary(b *testing.B, dial dialer, body bodyFunc) {
	for _, clients := range []int{100, paceClients} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			var r pacedResult
			for b.Loop() {
				srv := startBinary(b, b.TempDir(), benchBinaryArgs...)
				r = pacedFanout(b, srv, clients, dial, body)
				srv.kill()
			}
			r.report(b)
		})
	}
}

// pacedFanout connects clients, posts paceRate events/s for paceDuration,
// waits for them to arrive and gathers the figures.
func pacedFanout(b *testing.B, srv *process, clients int, dial dialer, body bodyFunc) pacedResult {
	b.Helper()
	c := dial(b, srv.URL, clients)
	defer c.close()

	var peak atomic.Int64
	stopRSS := make(chan struct{})
	rssDone := make(chan struct{})
	go func() { // sample the server's RSS while it works; keep the peak
		defer close(rssDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v := srv.rss(b); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-t.C:
			case <-stopRSS:
				return
			}
		}
	}()

	cpuStart, selfStart, wall := paceProcCPU(b, srv.cmd.Process.Pid), paceSelfCPU(b), time.Now()
	post := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	defer post.CloseIdleConnections()
	events := int(paceDuration.Seconds() * paceRate)
	var posts sync.WaitGroup
	var postMu sync.Mutex
	var postLat []time.Duration
	var postErr error
	tick := time.NewTicker(time.Second / paceRate)
	for i := range events {
		<-tick.C
		posts.Add(1)
		// One goroutine per event: a slow commit must not slow the pace.
		go func() {
			defer posts.Done()
			sent := time.Now()
			err := postOne(post, srv.URL, body(i, sent))
			postMu.Lock()
			defer postMu.Unlock()
			if err != nil && postErr == nil {
				postErr = err
			}
			postLat = append(postLat, time.Since(sent))
		}()
	}
	tick.Stop()
	posts.Wait()
	if postErr != nil {
		b.Fatal(postErr)
	}

	want := int64(clients * events)
	for deadline := time.Now().Add(paceDrain); c.received.Load() < want && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	close(stopRSS)
	<-rssDone
	elapsed := time.Since(wall).Seconds()
	serverCPU := (paceProcCPU(b, srv.cmd.Process.Pid) - cpuStart).Seconds() / elapsed * 100
	clientCPU := (paceSelfCPU(b) - selfStart).Seconds() / elapsed * 100
	delivered := c.received.Load()
	c.close() // ends the readers, which hand in their latencies
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return pacedResult{
		p50: percentile(c.latencies, 0.50), p99: percentile(c.latencies, 0.99),
		postP50:   percentile(postLat, 0.50),
		delivered: delivered, want: want, peakRSS: peak.Load(),
		serverCPU: serverCPU, clientCPU: clientCPU,
	}
}

// paceProcCPU is the user+system CPU time of process pid, from /proc/pid/stat
// (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func paceProcCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count after its ")".
	_, rest, ok := strings.Cut(string(data), ") ")
	if !ok {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	f := strings.Fields(rest) // f[0] is field 3
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// paceSelfCPU is the user+system CPU time of this process.
func paceSelfCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func postOne(client *http.Client, base string, body []byte) error {
	resp, err := client.Post(base+"/api/v1/events", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /api/v1/events: %d %s", resp.StatusCode, data)
	}
	return nil
}

// ssePostBody is an event whose timestamp is its send time, which every
// SSE client reads back to measure its latency.
func ssePostBody(i int, sent time.Time) []byte {
	return fmt.Appendf(nil, `{"tags":["sse-bench","seq:%d"],"type":"bench","value":{"seq":%d},"timestamp":%q}`,
		i, i, sent.UTC().Format(time.RFC3339Nano))
}

// dialSSEClients opens n streams on /api/v1/events/stream filtered by the
// benchmark's tag. The server subscribes before it sends the headers, so a
// stream whose headers have arrived is owed every later event.
func dialSSEClients(b *testing.B, base string, n int) *streamClients {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true}
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	c := &streamClients{close: func() { cancel(); tr.CloseIdleConnections() }}
	bodies := make([]io.ReadCloser, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32) // a few dials at a time: no SYN backlog overflow
	var dials sync.WaitGroup
	for i := range n {
		dials.Add(1)
		sem <- struct{}{}
		go func() {
			defer dials.Done()
			defer func() { <-sem }()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/events/stream?tag=sse-bench", nil)
			if err != nil {
				errs <- err
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				errs <- fmt.Errorf("stream %d: status %d", i, resp.StatusCode)
				return
			}
			bodies[i] = resp.Body
		}()
	}
	dials.Wait()
	close(errs)
	for err := range errs {
		cancel()
		b.Fatal(err)
	}
	for _, body := range bodies {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer body.Close()
			var local []time.Duration
			defer func() { c.add(local) }()
			rd := bufio.NewReaderSize(body, 8<<10)
			for {
				line, err := rd.ReadSlice('\n')
				if err != nil {
					if ctx.Err() == nil {
						b.Errorf("stream read: %v", err)
					}
					return
				}
				data, ok := bytes.CutPrefix(line, []byte("data: "))
				if !ok {
					continue
				}
				ts, err := eventTimestamp(data)
				if err != nil {
					b.Errorf("stream event: %v", err)
					return
				}
				local = append(local, time.Since(ts))
				c.received.Add(1)
			}
		}()
	}
	return c
}

// eventTimestamp reads the timestamp of an event's JSON without decoding it
// all (1,000 readers decode every event: keep the client side cheap).
func eventTimestamp(data []byte) (time.Time, error) {
	_, rest, ok := bytes.Cut(data, []byte(`"timestamp":"`))
	if !ok {
		return time.Time{}, fmt.Errorf("no timestamp in %s", strings.TrimSpace(string(data)))
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}, fmt.Errorf("unterminated timestamp in %s", data)
	}
	return time.Parse(time.RFC3339Nano, string(rest[:end]))
}
