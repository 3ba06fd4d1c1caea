package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
)

// BenchmarkEventsFanout measures /events/ws delivering the same events to
// 1, 100 and 1,000 clients on loopback, beside a baseline in the same run:
// a bare loop that writes the same frames to the same number of sockets.
// Clients and server share this process, so both sides pay the same client
// costs and the ratio is what to read.
func BenchmarkEventsFanout(b *testing.B) {
	for _, clients := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			const events = 200
			frames := benchFrames(events)
			var cn, base fanoutResult
			for b.Loop() {
				cn = fanoutCrowsnest(b, clients, frames, 0)
				base = fanoutBaseline(b, clients, frames)
			}
			b.ReportMetric(cn.msgsPerSec, "msgs/s")
			b.ReportMetric(base.msgsPerSec, "baseline-msgs/s")
			b.ReportMetric(cn.msgsPerSec/base.msgsPerSec, "ratio")
			b.ReportMetric(cn.allocsPerEvent, "allocs/event")
			b.ReportMetric(base.allocsPerEvent, "baseline-allocs/event")
		})
	}
}

// BenchmarkEventsLatency paces 100 events/s to 1,000 clients and reports
// the delivery latency from store to client.
func BenchmarkEventsLatency(b *testing.B) {
	const clients, events = 1000, 300
	frames := benchFrames(events)
	var r fanoutResult
	for b.Loop() {
		r = fanoutCrowsnest(b, clients, frames, 10*time.Millisecond)
	}
	b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
}

type fanoutResult struct {
	msgsPerSec     float64
	allocsPerEvent float64
	p50, p99       time.Duration
}

// benchFrames are container events as the store holds them; timeNano is
// overwritten with the send time to measure latency.
func benchFrames(n int) []*feedItem {
	items := make([]*feedItem, n)
	now := time.Now()
	for i := range items {
		ev := syntheticEvent(i, now, "")
		rec := docker.EventRecord(ev)
		rec.ID = uint64(i + 1)
		items[i] = &feedItem{Event: rec, Container: &ev}
	}
	return items
}

// stampFrame is a copy of it whose timeNano is now, so receivers measure
// latency.
func stampFrame(it *feedItem) *feedItem {
	now := time.Now().UnixNano()
	ev := *it.Container
	old := []byte(`"timeNano":` + strconv.FormatInt(ev.TimeNano, 10))
	rec := it.Event
	rec.Value = bytes.Replace(rec.Value, old, []byte(`"timeNano":`+strconv.FormatInt(now, 10)), 1)
	ev.TimeNano = now
	return &feedItem{Event: rec, Container: &ev}
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
func fanoutCrowsnest(b *testing.B, clients int, frames []*feedItem, every time.Duration) fanoutResult {
	p := startInProcess(b, Config{StreamQueue: len(frames) + 1})
	r, closeAll := dialReceivers(b, p.WS("/events/ws"), clients, len(frames))
	defer closeAll()
	for p.srv.feed.clients() < clients {
		time.Sleep(time.Millisecond)
	}
	return measure(r, clients, frames, every, func(it *feedItem) { p.srv.feed.publish(stampFrame(it)) })
}

// fanoutBaseline writes the frames to every socket in a plain loop.
func fanoutBaseline(b *testing.B, clients int, frames []*feedItem) fanoutResult {
	var mu sync.Mutex
	var conns []*websocket.Conn
	ready := make(chan struct{}, clients)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		ready <- struct{}{}
		<-r.Context().Done()
	}))
	defer hs.Close()
	defer hs.CloseClientConnections()
	r, closeAll := dialReceivers(b, "ws"+strings.TrimPrefix(hs.URL, "http"), clients, len(frames))
	defer closeAll()
	for range clients {
		<-ready
	}
	return measure(r, clients, frames, 0, func(it *feedItem) {
		it = stampFrame(it)
		for _, c := range conns {
			if err := c.Write(context.Background(), websocket.MessageText, it.Event.Value); err != nil {
				b.Errorf("baseline write: %v", err)
			}
		}
	})
}

func measure(r *receivers, clients int, frames []*feedItem, every time.Duration, send func(*feedItem)) fanoutResult {
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
