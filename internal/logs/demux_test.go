package logs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

var t0 = time.Date(2025, 4, 16, 18, 25, 43, 511000000, time.UTC)

// stamp is how the engine stamps an entry.
func stamp(i int) string {
	return t0.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02T15:04:05.000000000Z07:00") + " "
}

func frame(stream byte, payload string) []byte {
	b := make([]byte, 8, 8+len(payload))
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

// collect decodes a stream with the given max line into lines.
func collect(t *testing.T, data []byte, tty bool, maxLine int) []wire.LogLine {
	t.Helper()
	var got []wire.LogLine
	a := newAssembler(maxLine, tty, func(l wire.LogLine) { got = append(got, l) })
	read := readFrames
	if tty {
		read = readRaw
	}
	if err := read(bytes.NewReader(data), a.add); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	a.flush(false)
	return got
}

func TestFramesSeparateStreamsAndStamps(t *testing.T) {
	var data []byte
	data = append(data, frame(frameStdout, stamp(0)+"out 1\n")...)
	data = append(data, frame(frameStderr, stamp(1)+"\x1b[31merr 1\x1b[0m\n")...)
	data = append(data, frame(frameStdout, stamp(2)+"\n")...)
	got := collect(t, data, false, DefaultMaxLine)
	want := []wire.LogLine{
		{Stream: "stdout", Timestamp: t0, Line: "out 1"},
		{Stream: "stderr", Timestamp: t0.Add(time.Millisecond), Line: "\x1b[31merr 1\x1b[0m"},
		{Stream: "stdout", Timestamp: t0.Add(2 * time.Millisecond), Line: ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestFramesJoinEngineChunksPerStream(t *testing.T) {
	// The engine cut a stdout line in two entries; a stderr line came between.
	var data []byte
	data = append(data, frame(frameStdout, stamp(0)+"first half,")...)
	data = append(data, frame(frameStderr, stamp(1)+"between\n")...)
	data = append(data, frame(frameStdout, stamp(2)+" second half\n")...)
	got := collect(t, data, false, DefaultMaxLine)
	if len(got) != 2 || got[0].Line != "between" || got[1].Line != "first half, second half" || !got[1].Timestamp.Equal(t0) {
		t.Errorf("got %+v", got)
	}
}

func TestFramesEngineError(t *testing.T) {
	data := frame(frameSysErr, "log driver exploded")
	a := newAssembler(0, false, func(wire.LogLine) {})
	if err := readFrames(bytes.NewReader(data), a.add); err == nil || !strings.Contains(err.Error(), "log driver exploded") {
		t.Errorf("err = %v", err)
	}
	if err := readFrames(bytes.NewReader(frame(frameStdout, "abc")[:9]), a.add); err == nil {
		t.Error("a truncated frame went unnoticed")
	}
}

func TestLongLineSplitAtCharacterBoundary(t *testing.T) {
	// 10 bytes max; "é" is two bytes and must not be cut in half.
	line := "aaaaaaaaaé" + strings.Repeat("b", 12)
	got := collect(t, frame(frameStdout, stamp(0)+line+"\n"), false, 10)
	var joined strings.Builder
	for i, l := range got {
		if !utf8.ValidString(l.Line) || len(l.Line) > 10 {
			t.Errorf("piece %d %q: invalid or too long", i, l.Line)
		}
		if l.Partial != (i < len(got)-1) {
			t.Errorf("piece %d partial = %v", i, l.Partial)
		}
		joined.WriteString(l.Line)
	}
	if joined.String() != line {
		t.Errorf("joined = %q, want %q", joined.String(), line)
	}
}

func TestRawStreamWithCutLines(t *testing.T) {
	long := strings.Repeat("x", engineChunk+100)
	// What the engine sends for a TTY: entries back to back; the long line
	// was cut into an engineChunk entry and the rest.
	raw := stamp(0) + "short\r\n" + stamp(1) + long[:engineChunk] + stamp(2) + long[engineChunk:] + "\r\n" + stamp(3) + "\x1b[1mbold\x1b[0m\r\n"
	got := collect(t, []byte(raw), true, DefaultMaxLine)
	if len(got) != 3 {
		t.Fatalf("got %d lines: %+v", len(got), got)
	}
	if got[0].Line != "short" || got[1].Line != long || got[2].Line != "\x1b[1mbold\x1b[0m" {
		t.Errorf("lines = %q, %d bytes, %q", got[0].Line, len(got[1].Line), got[2].Line)
	}
	for _, l := range got {
		if l.Stream != "stdout" || l.Timestamp.IsZero() {
			t.Errorf("line %+v: want stdout with a timestamp", l)
		}
	}
}

func TestRawStreamEndsMidLine(t *testing.T) {
	got := collect(t, []byte(stamp(0)+"no newline"), true, DefaultMaxLine)
	if len(got) != 1 || got[0].Line != "no newline" || got[0].Partial {
		t.Errorf("got %+v", got)
	}
}

func TestRecentBounds(t *testing.T) {
	r := newRecent(3, 10)
	for i := range 5 {
		r.add(wire.LogLine{Line: "ab", Timestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	if len(r.items) != 3 || !r.evicted || !r.oldest().Equal(t0.Add(2*time.Second)) {
		t.Errorf("items %+v evicted %v", r.items, r.evicted)
	}
	r.add(wire.LogLine{Line: "0123456789", Timestamp: t0.Add(9 * time.Second)})
	if len(r.items) != 1 {
		t.Errorf("byte bound not applied: %d items", len(r.items))
	}
	if got := r.since(t0.Add(10 * time.Second)); len(got) != 0 {
		t.Errorf("since after the newest = %+v", got)
	}
}
