package main

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestContainerLogsBurstIsNotCut: a container that prints 20,000 lines at
// once, far past the stream queue, does not cut a reader of its logs with
// 1013. The reader gets every line in order, or markers accounting for the
// ones it missed (LogsSkipped, with the since= that reads them again), and
// the socket stays open for what comes next.
func TestContainerLogsBurstIsNotCut(t *testing.T) {
	const burst = 20_000
	eng := testenv.Engine(t)
	t.Cleanup(func() { testenv.RemoveAll(t, eng) })
	srv := startServer(t, "--stream-queue", "64")
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-wait", "3s", "-lines", "20000", "-sleep", "1h"}})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, srv.WS("/api/v1/containers/"+id+"/logs/ws?"+url.Values{"tail": {"0"}}.Encode()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	var got, skipped, markers, pending uint64 // pending: skipped since the last line
	last := 0
	for got+skipped < burst {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("after line %d (%d lines, %d skipped): %v", last, got, skipped, err)
		}
		var f struct {
			wire.LogLine
			wire.LogsSkipped
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		switch {
		case f.Stream != "":
			n := lineNumber(t, f.Line)
			if gap := n - last - 1; gap < 0 || uint64(gap) != pending {
				t.Fatalf("line %d after line %d with %d lines said skipped between", n, last, pending)
			}
			last, pending = n, 0
			got++
		case f.Skipped > 0:
			markers++
			skipped += f.Skipped
			pending += f.Skipped
			if f.Since == "" && got > 0 {
				t.Errorf("marker without since=: %s", data)
			}
		}
	}
	if got+skipped != burst || uint64(burst-last) != pending {
		t.Fatalf("%d lines and %d skipped (the last line read %d, %d skipped after it), want %d in all", got, skipped, last, pending, burst)
	}
	t.Logf("%d lines read, %d skipped in %d markers", got, skipped, markers)
}
