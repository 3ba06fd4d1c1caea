package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/feed"
)

// fanoutRounds is how many times crowsnest and its floor alternate in one
// benchmark iteration: the medians of the rounds are reported, so a burst
// of load from another process on the shared cores moves one round, not
// the figure.
const fanoutRounds = 3

// BenchmarkEventsFanout measures /events/ws delivering a burst of the same
// events to 1, 100 and 1,000 clients on loopback, beside its floor in the
// same run (fanoutFloor: one writer goroutine per connection draining a
// queue of the same pre-encoded frames). Clients, server and floor share
// this process, so both sides pay the same client costs and the ratio is
// what to read.
func BenchmarkEventsFanout(b *testing.B) {
	for _, clients := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			const events = 200
			frames := benchFrames(events)
			var cn, floor []fanoutResult
			for b.Loop() {
				cn, floor = nil, nil
				for range fanoutRounds {
					floor = append(floor, fanoutFloor(b, clients, frames, 0))
					cn = append(cn, fanoutCrowsnest(b, clients, frames, 0))
				}
			}
			c, f := medianFanout(cn), medianFanout(floor)
			b.ReportMetric(c.msgsPerSec, "msgs/s")
			b.ReportMetric(f.msgsPerSec, "floor-msgs/s")
			b.ReportMetric(c.msgsPerSec/f.msgsPerSec, "ratio")
			b.ReportMetric(c.allocsPerEvent, "allocs/event")
			b.ReportMetric(f.allocsPerEvent, "floor-allocs/event")
			b.ReportMetric(fanoutRounds, "rounds")
		})
	}
}

// BenchmarkEventsLatency paces 100 events/s to 1,000 clients, alternating
// crowsnest and its floor, and reports the delivery latency of each (from
// the publication to the client's read) and the ratio of the p99s.
// BENCH_LATENCY_CLIENTS lowers the number of clients for a quick check.
func BenchmarkEventsLatency(b *testing.B) {
	clients := 1000
	if v := os.Getenv("BENCH_LATENCY_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_LATENCY_CLIENTS=%q: want a positive number", v)
		}
		clients = n
	}
	const events = 300
	frames := benchFrames(events)
	var cn, floor []fanoutResult
	for b.Loop() {
		cn, floor = nil, nil
		for range fanoutRounds {
			floor = append(floor, fanoutFloor(b, clients, frames, 10*time.Millisecond))
			cn = append(cn, fanoutCrowsnest(b, clients, frames, 10*time.Millisecond))
		}
	}
	c, f := medianFanout(cn), medianFanout(floor)
	b.ReportMetric(ms(c.p50), "p50-ms")
	b.ReportMetric(ms(c.p99), "p99-ms")
	b.ReportMetric(ms(f.p50), "floor-p50-ms")
	b.ReportMetric(ms(f.p99), "floor-p99-ms")
	b.ReportMetric(float64(c.p99)/float64(f.p99), "p99-ratio")
	b.ReportMetric(float64(clients), "clients")
	b.ReportMetric(fanoutRounds, "rounds")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// medianFanout is the median of each figure over the rounds, taken apart.
func medianFanout(rs []fanoutResult) fanoutResult {
	pick := func(f func(fanoutResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return fanoutResult{
		msgsPerSec:     pick(func(r fanoutResult) float64 { return r.msgsPerSec }),
		allocsPerEvent: pick(func(r fanoutResult) float64 { return r.allocsPerEvent }),
		p50:            time.Duration(pick(func(r fanoutResult) float64 { return float64(r.p50) })),
		p99:            time.Duration(pick(func(r fanoutResult) float64 { return float64(r.p99) })),
	}
}

type fanoutResult struct {
	msgsPerSec     float64
	allocsPerEvent float64
	p50, p99       time.Duration
}

// benchFrames are container events as the store holds them; timeNano is
// overwritten with the send time to measure latency.
func benchFrames(n int) []*feed.Item {
	items := make([]*feed.Item, n)
	now := time.Now()
	for i := range items {
		ev := syntheticEvent(i, now, "")
		rec := ev.Record()
		rec.ID = uint64(i + 1)
		items[i] = &feed.Item{Event: rec, Container: &ev}
	}
	return items
}

// stampFrame is a copy of it whose timeNano is now, so receivers measure
// latency.
func stampFrame(it *feed.Item) *feed.Item {
	now := time.Now().UnixNano()
	ev := *it.Container
	old := []byte(`"timeNano":` + strconv.FormatInt(ev.TimeNano, 10))
	rec := it.Event
	rec.Value = bytes.Replace(rec.Value, old, []byte(`"timeNano":`+strconv.FormatInt(now, 10)), 1)
	ev.TimeNano = now
	return &feed.Item{Event: rec, Container: &ev}
}

// receivers dials n sockets to url and counts frames until each has want.
type receivers struct {
	wg        sync.WaitGroup
	mu        sync.Mutex
	latencies []time.Duration
}

func dialReceivers(b *testing.B, url string, n, want int) (*receivers, func()) {
	r := &receivers{}
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c, _, err := websocket.Dial(context.Background(), url, nil)
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			var local []time.Duration
			for range want {
				_, data, err := c.Read(context.Background())
				if err != nil {
					b.Errorf("read: %v", err)
					return
				}
				local = append(local, time.Duration(time.Now().UnixNano()-frameTime(data)))
			}
			r.mu.Lock()
			r.latencies = append(r.latencies, local...)
			r.mu.Unlock()
		}()
	}
	return r, func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}
}

// frameTime finds timeNano in a frame without decoding it all.
func frameTime(data []byte) int64 {
	_, rest, _ := bytes.Cut(data, []byte(`"timeNano":`))
	end := bytes.IndexAny(rest, ",}")
	n, _ := strconv.ParseInt(string(rest[:end]), 10, 64)
	return n
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[int(float64(len(d)-1)*p)]
}

// fanoutCrowsnest sends frames through the feed to clients on /events/ws,
// pausing every between events (0: as fast as possible).
func fanoutCrowsnest(b *testing.B, clients int, frames []*feed.Item, every time.Duration) fanoutResult {
	p := startInProcess(b, Config{StreamQueue: len(frames) + 1})
	r, closeAll := dialReceivers(b, p.WS("/events/ws"), clients, len(frames))
	defer closeAll()
	for p.feed.Clients() < clients {
		time.Sleep(time.Millisecond)
	}
	return measure(r, clients, frames, every, func(it *feed.Item) { p.feed.Publish(stampFrame(it)) })
}

// fanoutFloor is what any fan-out of these frames must at least do: one
// writer goroutine per connection (the handler's own, as crowsnest's)
// draining a queue as deep as crowsnest's, fed the same frames, stamped
// the same way. It has no hub, no filter, no subscription bookkeeping and
// no control-frame reader.
func fanoutFloor(b *testing.B, clients int, frames []*feed.Item, every time.Duration) fanoutResult {
	var mu sync.Mutex
	var queues []chan []byte
	ready := make(chan struct{}, clients)
	stop := make(chan struct{}) // a hijacked request's context does not end with its client
	defer close(stop)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer c.CloseNow()
		q := make(chan []byte, len(frames)+1)
		mu.Lock()
		queues = append(queues, q)
		mu.Unlock()
		ready <- struct{}{}
		for {
			select {
			case frame := <-q:
				if err := c.Write(context.Background(), websocket.MessageText, frame); err != nil {
					b.Errorf("floor write: %v", err)
					return
				}
			case <-stop:
				return
			}
		}
	}))
	defer hs.Close()
	defer hs.CloseClientConnections()
	r, closeAll := dialReceivers(b, "ws"+strings.TrimPrefix(hs.URL, "http"), clients, len(frames))
	defer closeAll()
	for range clients {
		<-ready
	}
	return measure(r, clients, frames, every, func(it *feed.Item) {
		frame := stampFrame(it).Event.Value
		for _, q := range queues {
			q <- frame
		}
	})
}

func measure(r *receivers, clients int, frames []*feed.Item, every time.Duration, send func(*feed.Item)) fanoutResult {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for _, it := range frames {
		send(it)
		if every > 0 {
			time.Sleep(every)
		}
	}
	r.wg.Wait()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return fanoutResult{
		msgsPerSec:     float64(clients*len(frames)) / elapsed.Seconds(),
		allocsPerEvent: float64(after.Mallocs-before.Mallocs) / float64(len(frames)),
		p50:            percentile(r.latencies, 0.50),
		p99:            percentile(r.latencies, 0.99),
	}
}
