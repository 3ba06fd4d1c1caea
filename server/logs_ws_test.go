package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/serverlog"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/api"
)

// logsTestServer serves the API with its log records going to a fresh ring, so a
// test can log from known lines and read them back from /logs/ws.
func logsTestServer(t *testing.T, queue int) (*inProcess, *slog.Logger) {
	t.Helper()
	ring := serverlog.NewRing(50)
	log := slog.New(serverlog.NewHandler(slog.DiscardHandler, ring, slog.LevelDebug))
	p := startInProcess(t, Config{StreamQueue: queue}, func(o *api.Options) {
		o.Logger, o.Logs = log, ring
	})
	return p, log
}

// nextRecord reads the next frame of c as a log record.
func nextRecord(t *testing.T, c *wsClient) wire.LogRecord {
	t.Helper()
	select {
	case f := <-c.frames:
		var rec wire.LogRecord
		if err := json.Unmarshal(f, &rec); err != nil || rec.Level == "" {
			t.Fatalf("frame is not a log record (%v): %s", err, f)
		}
		return rec
	case err := <-c.closed:
		t.Fatalf("socket closed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no log record within 10s")
	}
	return wire.LogRecord{}
}

// expectGreeting reads the first frame, which must be the greeting.
func expectGreeting(t *testing.T, c *wsClient) {
	t.Helper()
	select {
	case f := <-c.frames:
		var m wire.Message
		if err := json.Unmarshal(f, &m); err != nil || m != wire.ConnectionEstablished {
			t.Fatalf("first frame = %s, want the greeting", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no greeting within 10s")
	}
}

func here() int {
	_, _, line, _ := runtime.Caller(1)
	return line
}

func TestLogsWSBacklogThenLive(t *testing.T) {
	p, log := logsTestServer(t, 64)
	for _, m := range []string{"one", "two", "three"} {
		log.Info("backlog "+m, "n", len(m))
	}
	c := dialWS(t, p.WS("/logs/ws?tail=2"), nil)
	expectGreeting(t, c)
	for _, want := range []string{"backlog two n=3", "backlog three n=5"} {
		if rec := nextRecord(t, c); rec.Message != want || rec.Level != "INFO" {
			t.Errorf("backlog record = %+v, want message %q", rec, want)
		}
	}
	line := here() + 1
	log.Warn("live record", "err", errors.New("disk full"))
	rec := nextRecord(t, c)
	if rec.Message != `live record err="disk full"` || rec.Level != "WARN" || rec.File != "logs_ws_test.go" || rec.Line != line {
		t.Errorf("live record = %+v, want WARN at logs_ws_test.go:%d", rec, line)
	}
	ts, err := time.Parse(time.RFC3339, rec.Timestamp)
	if err != nil || time.Since(ts) > time.Minute || !strings.HasSuffix(rec.Timestamp, "Z") || len(rec.Timestamp) != 24 {
		t.Errorf("timestamp %q: want RFC 3339 UTC with milliseconds, now (%v)", rec.Timestamp, err)
	}
}

func TestLogsWSDefaultTailAndLevelFilter(t *testing.T) {
	p, log := logsTestServer(t, 64)
	log.Debug("quiet")
	log.Warn("careful")
	log.Error("broken")
	c := dialWS(t, p.WS("/logs/ws?level=WARN"), nil)
	expectGreeting(t, c)
	if got := nextRecord(t, c).Message; got != "careful" {
		t.Errorf("first record = %q, want careful (debug filtered out)", got)
	}
	if got := nextRecord(t, c).Message; got != "broken" {
		t.Errorf("second record = %q, want broken", got)
	}
	log.Info("not for this client")
	log.Error("live error")
	if got := nextRecord(t, c); got.Message != "live error" || got.Level != "ERROR" {
		t.Errorf("live record = %+v, want the error only", got)
	}
}

func TestLogsWSBadQuery(t *testing.T) {
	p, _ := logsTestServer(t, 64)
	for _, q := range []string{"level=loud", "level=", "tail=-1", "tail=ten"} {
		if q == "level=" {
			continue // empty means the default
		}
		status, body := dialStatus(t, p.WS("/logs/ws?"+q), nil)
		if status != http.StatusBadRequest || !strings.Contains(body, `"message"`) {
			t.Errorf("%s: status %d body %s, want 400 with a message", q, status, body)
		}
	}
}

func TestLogsWSSlowClientDropped(t *testing.T) {
	p, log := logsTestServer(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, p.WS("/logs/ws?tail=0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	// Not reading: once the socket buffers fill, the queue of 4 overflows.
	big := strings.Repeat("x", 4<<10)
	for range 20_000 {
		log.Info(big)
	}
	for {
		_, _, err := conn.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusTryAgainLater || !strings.Contains(ce.Reason, "too slow") {
			t.Fatalf("socket ended with %v, want 1013 too slow", err)
		}
		return
	}
}
