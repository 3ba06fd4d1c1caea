package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// fileEntry is one entry of a fake json-file log.
type fileEntry struct {
	stream  byte
	ts      time.Time
	content string
}

// fakeLog is an engine whose container writes entries while crowsnest
// reads: history sees the first `written` of them, and everything is
// written by the time the follow asks, after which the container stops.
// Like the json-file driver, it returns entries in the order written, and
// since and until keep entries stamped at or after, and at or before,
// them. With coarse it shows stamps to the second only, as Podman does,
// though since and until still compare the full ones.
type fakeLog struct {
	mu      sync.Mutex
	entries []fileEntry
	written int
	coarse  bool
}

func (l *fakeLog) ContainerLogs(_ context.Context, _ string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	since, err := parseEngineTime(opts.Since)
	if err != nil {
		return nil, err
	}
	until, err := parseEngineTime(opts.Until)
	if err != nil {
		return nil, err
	}
	var out []fileEntry
	switch {
	case opts.Follow:
		l.written = len(l.entries)
		for _, e := range l.entries {
			if !e.ts.Before(since) {
				out = append(out, e)
			}
		}
	case opts.Until != "":
		for _, e := range l.entries[:l.written] {
			if !e.ts.Before(since) && !e.ts.After(until) {
				out = append(out, e)
			}
		}
	default:
		n, err := strconv.Atoi(opts.Tail)
		if err != nil {
			return nil, fmt.Errorf("bad tail %q: %w", opts.Tail, err)
		}
		out = l.entries[max(l.written-n, 0):l.written]
	}
	var b bytes.Buffer
	for _, e := range out {
		ts := e.ts
		if l.coarse {
			ts = ts.Truncate(time.Second)
		}
		b.Write(frame(e.stream, ts.Format(time.RFC3339Nano)+" "+e.content))
	}
	return io.NopCloser(&b), nil
}

// parseEngineTime reads the "seconds.nanoseconds" form engineTime writes;
// "" is the zero time.
func parseEngineTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	sec, nsec, ok := strings.Cut(s, ".")
	secs, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt(nsec, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("bad engine time %q", s)
	}
	return time.Unix(secs, ns), nil
}

// view opens a view of eng asking for tail lines and collects it until
// the container stops.
func view(t *testing.T, eng Engine, recent, tail int) []wire.LogLine {
	t.Helper()
	s := NewStreams(Options{Recent: recent, MaxLine: 100, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(s.Close)
	v, err := s.Open(t.Context(), "Localhost", eng, Container{ID: "c0ffee"}, ViewOptions{Tail: tail, Queue: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var got []wire.LogLine
	if err := runView(t.Context(), v, func(l wire.LogLine) error {
		got = append(got, l)
		return nil
	}); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run = %v, want ErrStopped", err)
	}
	return got
}

// oneRead is what reading all of entries in one go gives, the last tail of
// it (all when negative).
func oneRead(t *testing.T, entries []fileEntry, tail int) []wire.LogLine {
	t.Helper()
	var got []wire.LogLine
	a := newAssembler(100, false, func(l wire.LogLine) { got = append(got, l) })
	for _, e := range entries {
		if err := a.add(streamOf(e), e.ts, []byte(e.content)); err != nil {
			t.Fatal(err)
		}
	}
	a.flush(false)
	if tail >= 0 && tail < len(got) {
		got = got[len(got)-tail:]
	}
	return got
}

// sameLines fails unless got and want hold the same lines in the same
// pieces.
func sameLines(t *testing.T, got, want []wire.LogLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%v\nwant\n%v", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i].Stream != want[i].Stream || got[i].Line != want[i].Line || got[i].Partial != want[i].Partial || !got[i].Timestamp.Equal(want[i].Timestamp) {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// The engine stamps every 16 KiB piece of a long line with the first
// piece's time. History read while such a line is being written must not
// make the follow skip the rest of it, nor send any of it twice.
func TestFollowContinuesLineCutDuringHistory(t *testing.T) {
	t.Parallel()
	chunk := strings.Repeat("0123456789abcdef", 4)
	line := t0.Add(time.Second)
	entries := []fileEntry{
		{frameStdout, t0, "before 1\n"},
		{frameStdout, t0.Add(time.Millisecond), "before 2\n"},
		{frameStdout, line, chunk},
		{frameStdout, line, chunk},
		// The other stream writes meanwhile, stamped later.
		{frameStderr, line.Add(time.Millisecond), "err 1\n"},
		{frameStdout, line, chunk},
		{frameStdout, line, chunk},
		{frameStdout, line, chunk},
		{frameStdout, line, "end\n"},
		{frameStdout, line.Add(2 * time.Millisecond), "after\n"},
	}
	t.Run("history from the start", func(t *testing.T) {
		t.Parallel()
		for written := 1; written <= len(entries); written++ {
			eng := &fakeLog{written: written, entries: entries}
			sameLines(t, view(t, eng, 1000, -1), oneRead(t, entries, -1))
		}
	})
	// History is the last 5 entries, so some entries before it may be
	// stamped like those in it: what the follow passes on must still be
	// exactly what was written after history.
	t.Run("history a tail", func(t *testing.T) {
		t.Parallel()
		for written := 5; written <= len(entries); written++ {
			window := entries[written-5 : written]
			var seen []seenEntry
			var pending time.Time
			a := newAssembler(100, false, func(wire.LogLine) {})
			for _, e := range window {
				seen = append(seen, newSeenEntry(streamOf(e), e.ts, []byte(e.content)))
				if err := a.add(streamOf(e), e.ts, []byte(e.content)); err != nil {
					t.Fatal(err)
				}
				pending = a.pendingSince()
			}
			since, sk := handover(seen, pending, false)
			var passed []fileEntry
			for _, e := range entries {
				if !e.ts.Before(since) && !sk.seen(streamOf(e), e.ts, []byte(e.content)) {
					passed = append(passed, e)
				}
			}
			want := entries[written:]
			if written == 8 {
				// History starts inside the long line and holds no line
				// start: nothing bounds the stamps of the entries before
				// it, so the follow may pass some on twice (see
				// handover), but loses none.
				if len(passed) < len(want) || fmt.Sprint(passed[len(passed)-len(want):]) != fmt.Sprint(want) {
					t.Errorf("%d written: follow passes on %v, want it to end with %v", written, passed, want)
				}
				continue
			}
			if fmt.Sprint(passed) != fmt.Sprint(want) {
				t.Errorf("%d written: follow passes on %v, want %v", written, passed, want)
			}
		}
	})
}

func streamOf(e fileEntry) string {
	if e.stream == frameStderr {
		return wire.StreamStderr
	}
	return wire.StreamStdout
}

// An entry of one stream stamped before the newest of the other but written
// after history ended is not skipped either.
func TestFollowKeepsEntryWrittenOutOfStampOrder(t *testing.T) {
	t.Parallel()
	entries := []fileEntry{
		{frameStdout, t0, "out 1\n"},
		{frameStdout, t0.Add(2 * time.Millisecond), "out 2\n"},
		{frameStderr, t0.Add(time.Millisecond), "err 1\n"},
	}
	eng := &fakeLog{written: 2, entries: entries}
	sameLines(t, view(t, eng, 1000, -1), oneRead(t, entries, -1))
}

// When the log changed between the two requests the follow re-reads
// something else than history passed on: it sends it rather than skip it.
func TestSkipperStopsAtFirstDifference(t *testing.T) {
	t.Parallel()
	a := newSeenEntry(wire.StreamStdout, t0, []byte("a\n"))
	b := newSeenEntry(wire.StreamStdout, t0, []byte("b\n"))
	s := skipper{skip: []seenEntry{a, b}}
	if !s.seen(wire.StreamStdout, t0, []byte("a\n")) {
		t.Error("the first entry history had is not skipped")
	}
	if s.seen(wire.StreamStdout, t0, []byte("c\n")) {
		t.Error("an entry history did not have is skipped")
	}
	if s.seen(wire.StreamStdout, t0, []byte("b\n")) {
		t.Error("skipping resumed after a difference")
	}
}

// An engine that stamps to the second only (Podman) gives history, the
// follow and the backlog no stamp to tell apart the entries of one second:
// whatever history caught, and however far back the viewer asks, every
// line comes once and in order.
func TestCoarseStampsNeitherLoseNorRepeat(t *testing.T) {
	t.Parallel()
	var entries, shown []fileEntry
	for i := range 40 {
		stream := byte(frameStdout)
		if i%3 == 2 {
			stream = frameStderr
		}
		e := fileEntry{stream, t0.Add(time.Duration(i) * 90 * time.Millisecond), fmt.Sprintf("line %d\n", i)}
		entries = append(entries, e)
		shown = append(shown, fileEntry{e.stream, e.ts.Truncate(time.Second), e.content})
	}
	all := oneRead(t, shown, -1)
	for written := 1; written <= len(entries); written += 3 {
		for _, tail := range []int{4, 12, -1} {
			eng := &fakeLog{written: written, entries: entries, coarse: true}
			got := view(t, eng, 5, tail)
			// The tail counts back from whatever memory held when the
			// view opened, which the follow may have filled meanwhile.
			want := all
			if tail >= 0 && len(got) >= tail {
				want = all[len(all)-len(got):]
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%d written, tail %d:\n%v\nwant the last %d or more of\n%v", written, tail, got, tail, all)
			}
		}
	}
}
