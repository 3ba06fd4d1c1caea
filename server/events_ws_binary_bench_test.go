package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// idleSettle is how long the idle clients stay connected before the RSS
// is read: past the dial burst, so what is read is what 1,000 idle
// connections cost, not the garbage of accepting them.
const idleSettle = 3 * time.Second

// BenchmarkEventsIdleRSS reads the resident memory of the real binary with
// 1,000 idle /events/ws clients (target < 100 MB), beside its RSS before
// they connected. The binary runs without an engine, so the clients ask for
// a replay (since=1s: nothing to replay) and then wait for live events,
// which never come: that is the idle state of a connected client.
func BenchmarkEventsIdleRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000 sockets against the real binary; skipped under -short")
	}
	var before, idle int64
	for b.Loop() {
		srv := startBinary(b, b.TempDir(), benchBinaryArgs...)
		before = srv.rss(b)
		c := dialWSClients(b, srv.URL, paceClients)
		time.Sleep(idleSettle)
		idle = srv.rss(b)
		c.close()
		c.wg.Wait()
		srv.kill()
	}
	b.ReportMetric(float64(idle)/(1<<20), "rss-MB")
	b.ReportMetric(float64(before)/(1<<20), "rss-MB-before")
	b.ReportMetric(float64(idle-before)/paceClients/(1<<10), "KB/client")
}

// BenchmarkEventsLatencyBinary is BenchmarkEventsLatency (100 events/s to
// 1,000 /events/ws clients) against the real binary in its own process:
// container events posted through POST /api/v1/events as the engine path
// stores them (type container, the Docker frame as value, timeNano = send
// time), delivered by the feed to every socket. The latency runs from the
// POST to the client, so it includes the durable commit (post-p50-ms).
func BenchmarkEventsLatencyBinary(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000 sockets against the real binary; skipped under -short")
	}
	benchPacedBinary(b, dialWSClients, containerPostBody)
}

// containerPostBody is a start or stop container event stamped with sent,
// in the stored form the engine path gives it (wire.ContainerEvent.Record).
func containerPostBody(i int, sent time.Time) []byte {
	ev := syntheticEvent(i, sent, "")
	ev.Time, ev.TimeNano = sent.Unix(), sent.UnixNano()
	rec := ev.Record()
	body, err := json.Marshal(postBody{Tags: rec.Tags, Type: rec.Type, Value: rec.Value})
	if err != nil {
		panic(err) // strings and raw JSON always encode
	}
	return body
}

// dialWSClients opens n sockets on /events/ws?since=1s and reads them. The
// feed subscription is taken before the replay, which ends before the first
// frame could be read; the server's client count is not visible from here,
// so a short pause after the dials lets the last replays finish.
func dialWSClients(b *testing.B, base string, n int) *streamClients {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	url := "ws" + base[len("http"):] + "/events/ws?since=1s"
	conns := make([]*websocket.Conn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32) // a few dials at a time: no SYN backlog overflow
	var dials sync.WaitGroup
	for i := range n {
		dials.Add(1)
		sem <- struct{}{}
		go func() {
			defer dials.Done()
			defer func() { <-sem }()
			c, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				errs <- fmt.Errorf("dial %d: %w", i, err)
				return
			}
			conns[i] = c
		}()
	}
	dials.Wait()
	close(errs)
	c := &streamClients{close: func() {
		cancel()
		for _, conn := range conns {
			if conn != nil {
				conn.CloseNow()
			}
		}
	}}
	for err := range errs {
		c.close()
		b.Fatal(err)
	}
	for _, conn := range conns {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			var local []time.Duration
			defer func() { c.add(local) }()
			for {
				// Reading also answers the server's pings.
				_, data, err := conn.Read(ctx)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
						b.Errorf("events/ws read: %v", err)
					}
					return
				}
				ns, ok := frameTimeNano(data)
				if !ok {
					continue // not an event frame
				}
				local = append(local, time.Duration(time.Now().UnixNano()-ns))
				c.received.Add(1)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	return c
}

// frameTimeNano finds timeNano in a frame without decoding it all.
func frameTimeNano(data []byte) (int64, bool) {
	_, rest, ok := bytes.Cut(data, []byte(`"timeNano":`))
	if !ok {
		return 0, false
	}
	end := bytes.IndexAny(rest, ",}")
	if end < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return n, err == nil
}
