package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// burstLines is how many lines the helper prints at once.
const burstLines = 20_000

// TestContainerLogsBurstIsNotCut: a container that prints 20,000 lines at
// once, far past the stream queue, does not cut a reader of its logs with
// 1013: neither one watching when the burst starts, nor one that joins in
// the middle of it with a backlog to read first. Each gets every line in
// order, or markers accounting exactly for the ones it missed
// (LogsSkipped, with the since= that reads them again), and the socket
// stays open for what comes next.
func TestContainerLogsBurstIsNotCut(t *testing.T) {
	eng := testenv.Engine(t)
	t.Cleanup(func() { testenv.RemoveAll(t, eng) })
	srv := startServer(t, "--stream-queue", "64")
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-wait", "3s", "-lines", "20000", "-sleep", "1h"}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dial := func(tail string) *websocket.Conn {
		conn, _, err := websocket.Dial(ctx, srv.WS("/api/v1/containers/"+id+"/logs/ws?"+url.Values{"tail": {tail}}.Encode()), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.CloseNow() })
		conn.SetReadLimit(1 << 20)
		return conn
	}

	first := dial("0")
	var midway sync.Once
	second := make(chan *websocket.Conn, 1)
	err := readBurst(ctx, t, first, func(n int) {
		if n >= 2000 {
			midway.Do(func() { second <- dial("500") })
		}
	})
	if err != nil {
		t.Fatalf("watching from the start: %v", err)
	}
	select {
	case c := <-second:
		if err := readBurst(ctx, t, c, func(int) {}); err != nil {
			t.Fatalf("joining midway: %v", err)
		}
	default:
		t.Fatal("the first reader never got past line 2,000")
	}
}

// readBurst reads conn until every line of the burst from its first one on
// is read or said skipped, telling onLine each line's number. The second
// reader joins while the first reads: its socket buffers what comes.
func readBurst(ctx context.Context, t *testing.T, conn *websocket.Conn, onLine func(int)) error {
	var got, skipped, markers, pending int // pending: said skipped since the last line
	start, last := 0, 0
	for start == 0 || start-1+got+skipped < burstLines {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("after line %d (%d lines, %d skipped): %w", last, got, skipped, err)
		}
		var f struct {
			wire.LogLine
			wire.LogsSkipped
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("frame %s: %w", data, err)
		}
		switch {
		case f.Stream != "":
			n := lineNumber(t, f.Line)
			if start == 0 {
				start, last = n, n-1
			}
			if n-last-1 != pending {
				return fmt.Errorf("line %d after line %d with %d lines said skipped between", n, last, pending)
			}
			last, pending = n, 0
			got++
			onLine(n)
		case f.Skipped > 0:
			if start == 0 {
				return fmt.Errorf("a marker before any line: %s", data)
			}
			if f.Since == "" {
				return fmt.Errorf("marker without since=: %s", data)
			}
			markers++
			skipped += int(f.Skipped)
			pending += int(f.Skipped)
		}
	}
	if burstLines-last != pending {
		return fmt.Errorf("the last line read is %d, with %d said skipped after it", last, pending)
	}
	t.Logf("from line %d: %d lines read, %d skipped in %d markers", start, got, skipped, markers)
	return nil
}
