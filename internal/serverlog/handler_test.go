package serverlog

import (
	"bytes"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// newTestLogger returns a logger writing text to out and records to a ring.
func newTestLogger(level slog.Level) (*slog.Logger, *Ring, *bytes.Buffer) {
	var out bytes.Buffer
	ring := NewRing(10)
	text := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: level, ReplaceAttr: Redact})
	return slog.New(NewHandler(text, ring, level)), ring, &out
}

func lastRecord(t *testing.T, r *Ring) Record {
	t.Helper()
	recs, _ := r.Tail(1, slog.LevelDebug)
	if len(recs) != 1 {
		t.Fatalf("ring holds %d records, want at least 1", len(recs))
	}
	return recs[0]
}

func TestHandlerRecordsCallSite(t *testing.T) {
	log, ring, out := newTestLogger(slog.LevelInfo)
	_, _, line, _ := runtime.Caller(0)
	log.Warn("disk almost full", "err", errors.New("no space left"), "free", 12) // line+1
	rec := lastRecord(t, ring)
	want := wire.LogRecord{Level: "WARN", Message: `disk almost full err="no space left" free=12`, File: "handler_test.go", Line: line + 1}
	rec.Timestamp = ""
	if rec.LogRecord != want {
		t.Errorf("record = %+v, want %+v", rec.LogRecord, want)
	}
	if !strings.Contains(out.String(), "disk almost full") {
		t.Errorf("text output misses the record: %q", out.String())
	}
}

func TestHandlerTimestampAndLevels(t *testing.T) {
	log, ring, _ := newTestLogger(slog.LevelDebug)
	for _, c := range []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug, "DEBUG"}, {slog.LevelInfo, "INFO"}, {slog.LevelWarn, "WARN"},
		{slog.LevelError, "ERROR"}, {slog.LevelWarn + 2, "WARN"}, {slog.LevelError + 4, "ERROR"},
	} {
		log.Log(t.Context(), c.level, "m")
		if got := lastRecord(t, ring).Level; got != c.want {
			t.Errorf("level %v named %q, want %q", c.level, got, c.want)
		}
	}
	ts := lastRecord(t, ring).Timestamp
	parsed, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		t.Fatalf("timestamp %q is not RFC 3339: %v", ts, err)
	}
	if len(ts) != len("2006-01-02T15:04:05.000Z") || time.Since(parsed) > time.Minute {
		t.Errorf("timestamp %q: want UTC with milliseconds, now", ts)
	}
}

func TestHandlerAttrsAndGroups(t *testing.T) {
	log, ring, _ := newTestLogger(slog.LevelInfo)
	l := log.With("host", "Localhost").WithGroup("req").With("path", "/x y")
	l.Info("done", "status", 200, slog.Group("user", "name", "ann"), slog.Group("empty"))
	if got, want := lastRecord(t, ring).Message, `done host=Localhost req.path="/x y" req.status=200 req.user.name=ann`; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	log.Info("below info", slog.Attr{}) // the empty attr is dropped
	if got := lastRecord(t, ring).Message; got != "below info" {
		t.Errorf("message = %q", got)
	}
}

func TestHandlerRedactsSecrets(t *testing.T) {
	log, ring, out := newTestLogger(slog.LevelInfo)
	log.With("Token", "t0k").Info("login", "password", "hunter2", "authorization", "Bearer abc",
		slog.Group("secret", "key", "s3cr3t"), "user", "ann")
	msg := lastRecord(t, ring).Message
	for _, leak := range []string{"t0k", "hunter2", "Bearer abc", "s3cr3t"} {
		if strings.Contains(msg, leak) {
			t.Errorf("ring message leaks %q: %s", leak, msg)
		}
		if strings.Contains(out.String(), leak) {
			t.Errorf("text output leaks %q: %s", leak, out.String())
		}
	}
	if want := `login Token=[redacted] password=[redacted] authorization=[redacted] secret.key=[redacted] user=ann`; msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
	log.WithGroup("token").Info("grouped", "value", "v4lue")
	if msg := lastRecord(t, ring).Message; strings.Contains(msg, "v4lue") || strings.Contains(out.String(), "v4lue") {
		t.Errorf("a value inside a secret group leaks: %s / %s", msg, out.String())
	}
}

func TestHandlerRespectsLevel(t *testing.T) {
	log, ring, _ := newTestLogger(slog.LevelWarn)
	log.Info("dropped")
	if recs, _ := ring.Tail(10, slog.LevelDebug); len(recs) != 0 {
		t.Errorf("info record kept at warn level: %+v", recs)
	}
}

func TestRingTailAndSequence(t *testing.T) {
	log, ring, _ := newTestLogger(slog.LevelDebug)
	sub := ring.Subscribe(100)
	defer sub.Close()
	for i := range 25 {
		level := slog.LevelInfo
		if i%5 == 0 {
			level = slog.LevelError
		}
		log.Log(t.Context(), level, "m", "i", i)
	}
	recs, last := ring.Tail(3, slog.LevelDebug)
	if last != 25 || len(recs) != 3 || recs[0].Message != "m i=22" || recs[2].Message != "m i=24" || recs[2].Seq != 25 {
		t.Errorf("Tail(3) = %+v, last %d", recs, last)
	}
	// Only 10 are kept; of those, i=15 and i=20 are errors.
	errs, _ := ring.Tail(100, slog.LevelError)
	if len(errs) != 2 || errs[0].Message != "m i=15" || errs[1].Message != "m i=20" {
		t.Errorf("Tail of errors = %+v", errs)
	}
	for i := uint64(1); i <= 25; i++ {
		if rec := <-sub.C(); rec.Seq != i {
			t.Fatalf("published seq %d, want %d", rec.Seq, i)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "Warn": slog.LevelWarn, "warning": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel(loud) succeeded")
	}
}
