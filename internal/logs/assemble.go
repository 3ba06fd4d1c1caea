package logs

import (
	"bytes"
	"time"
	"unicode/utf8"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// DefaultMaxLine is the most bytes of a line one message carries; a longer
// line is sent as several messages, each but the last marked partial.
const DefaultMaxLine = 64 << 10

// assembler turns engine entries into lines. The engine cuts long lines
// into several entries; the assembler joins them per stream, then splits
// what exceeds max into partial messages, so a line is neither dropped nor
// unbounded. It is not safe for concurrent use.
type assembler struct {
	max  int
	tty  bool
	emit func(wire.LogLine)
	pend map[string]*pending
}

// pending is the unfinished line of one stream and, for each entry it was
// built from, where that entry's bytes start, so every piece of a split line
// carries the timestamp of the entry its first byte came from.
type pending struct {
	buf   []byte
	marks []mark
}

type mark struct {
	off int
	ts  time.Time
}

func newAssembler(max int, tty bool, emit func(wire.LogLine)) *assembler {
	if max < utf8.UTFMax {
		max = DefaultMaxLine
	}
	return &assembler{max: max, tty: tty, emit: emit, pend: make(map[string]*pending, 2)}
}

// add takes one entry; it implements entryFunc.
func (a *assembler) add(stream string, ts time.Time, content []byte) error {
	p := a.pend[stream]
	if p == nil {
		p = &pending{}
		a.pend[stream] = p
	}
	for len(content) > 0 {
		i := bytes.IndexByte(content, '\n')
		chunk := content
		if i >= 0 {
			chunk = content[:i]
		}
		p.marks = append(p.marks, mark{off: len(p.buf), ts: ts})
		p.buf = append(p.buf, chunk...)
		a.split(stream, p)
		if i < 0 {
			break
		}
		a.line(stream, p, false)
		content = content[i+1:]
	}
	return nil
}

// split sends full-size pieces while the pending line is longer than max,
// cutting at a UTF-8 character boundary so no piece holds half a character.
func (a *assembler) split(stream string, p *pending) {
	for len(p.buf) > a.max {
		cut := a.max
		for c := cut; c > a.max-utf8.UTFMax; c-- {
			if utf8.RuneStart(p.buf[c]) {
				cut = c
				break
			}
		}
		a.emit(wire.LogLine{Stream: stream, Timestamp: p.marks[0].ts, Line: string(p.buf[:cut]), Partial: true})
		p.buf = append(p.buf[:0], p.buf[cut:]...)
		// Keep the mark of the entry the rest starts in, moved to offset 0.
		keep := 0
		for k, m := range p.marks {
			if m.off <= cut {
				keep = k
			}
		}
		p.marks = append(p.marks[:0], p.marks[keep:]...)
		for k := range p.marks {
			p.marks[k].off = max(p.marks[k].off-cut, 0)
		}
	}
}

// line sends the pending line of stream and clears it.
func (a *assembler) line(stream string, p *pending, partial bool) {
	if len(p.marks) == 0 {
		return
	}
	text := p.buf
	if a.tty && !partial {
		// A terminal ends lines with \r\n; the \r is line ending, not text.
		text = bytes.TrimSuffix(text, []byte{'\r'})
	}
	a.emit(wire.LogLine{Stream: stream, Timestamp: p.marks[0].ts, Line: string(text), Partial: partial})
	p.buf, p.marks = p.buf[:0], p.marks[:0]
}

// pendingSince is the timestamp of the oldest entry an unfinished line
// still holds bytes of, zero when no line is unfinished. The engine stamps
// the rest of such a line no earlier.
func (a *assembler) pendingSince() time.Time {
	var oldest time.Time
	for _, p := range a.pend {
		if len(p.marks) > 0 && (oldest.IsZero() || p.marks[0].ts.Before(oldest)) {
			oldest = p.marks[0].ts
		}
	}
	return oldest
}

// flush sends every unfinished line. partial says whether more of them may
// follow elsewhere (the end of a backlog that live lines continue) or not
// (the container stopped).
func (a *assembler) flush(partial bool) {
	for _, s := range []string{wire.StreamStdout, wire.StreamStderr} {
		if p := a.pend[s]; p != nil {
			a.line(s, p, partial)
		}
	}
}
