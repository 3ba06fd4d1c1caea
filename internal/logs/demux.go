package logs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Engine log framing: without a TTY the engine multiplexes stdout and
// stderr, each message behind an 8-byte header (stream byte, three zero
// bytes, big-endian payload size); with a TTY the stream is raw.
const (
	frameHeaderLen = 8
	frameStdin     = 0
	frameStdout    = 1
	frameStderr    = 2
	frameSysErr    = 3 // the engine reporting an error in the stream
	// maxFrame bounds one frame's payload: the engine cuts log entries at
	// 16 KiB (1 MB for the local driver), so anything far larger is a
	// corrupt stream, not a log line.
	maxFrame = 8 << 20
)

// engineChunk is where the engine's json-file and journald drivers cut a long
// line into entries. Only the raw (TTY) reader needs it: there, nothing
// but this length tells where an entry without a newline ends and the next
// one's timestamp begins.
const engineChunk = 16 << 10

// maxStampLen bounds the timestamp the engine puts before each entry
// (RFC 3339 with nanoseconds and a zone offset is at most 35 bytes).
const maxStampLen = 40

// entryFunc receives one engine log entry: its stream, the engine's
// timestamp (zero when it had none) and its content, newline included when
// the entry ends a line. content is only valid during the call.
type entryFunc func(stream string, ts time.Time, content []byte) error

// readFrames reads a multiplexed log stream to its end, one entry per frame.
func readFrames(r io.Reader, fn entryFunc) error {
	var hdr [frameHeaderLen]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading a log frame header: %w", err)
		}
		size := binary.BigEndian.Uint32(hdr[4:])
		if size > maxFrame {
			return fmt.Errorf("log frame of %d bytes exceeds %d: corrupt stream", size, maxFrame)
		}
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("reading a log frame: %w", err)
		}
		var stream string
		switch hdr[0] {
		case frameStdin, frameStdout:
			stream = wire.StreamStdout
		case frameStderr:
			stream = wire.StreamStderr
		case frameSysErr:
			return fmt.Errorf("engine: %s", bytes.TrimSpace(buf))
		default:
			return fmt.Errorf("log frame of unknown stream %d: corrupt stream", hdr[0])
		}
		ts, content := cutStamp(buf)
		if err := fn(stream, ts, content); err != nil {
			return err
		}
	}
}

// cutStamp splits the engine's timestamp off the front of an entry. An
// entry without one (should the engine not stamp it) is all content.
func cutStamp(b []byte) (time.Time, []byte) {
	i := bytes.IndexByte(b[:min(len(b), maxStampLen)], ' ')
	if i < 0 {
		return time.Time{}, b
	}
	ts, err := time.Parse(time.RFC3339Nano, string(b[:i]))
	if err != nil {
		return time.Time{}, b
	}
	return ts, b[i+1:]
}

// readRaw reads a TTY container's log stream to its end. Entries are
// "timestamp content" back to back; one ends at a newline, or, for a line
// the engine cut, after engineChunk bytes when a timestamp follows.
// It never waits for more bytes than the entry in hand needs, so a short
// line of a followed stream is passed on at once.
func readRaw(r io.Reader, fn entryFunc) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		stamp, err := br.ReadSlice(' ')
		switch {
		case errors.Is(err, io.EOF) && len(stamp) == 0:
			return nil
		case errors.Is(err, io.EOF), errors.Is(err, bufio.ErrBufferFull):
			// No timestamp: pass what there is on as content.
			if ferr := fn(wire.StreamStdout, time.Time{}, stamp); ferr != nil || errors.Is(err, io.EOF) {
				return ferr
			}
			continue
		case err != nil:
			return fmt.Errorf("reading the log stream: %w", err)
		}
		ts, rest := cutStamp(stamp)
		var content []byte
		if ts.IsZero() {
			content = append(content, rest...) // not a stamp after all: it is content
		}
		end, err := readEntry(br, content, func(c []byte) error { return fn(wire.StreamStdout, ts, c) })
		if err != nil || end {
			return err
		}
	}
}

// readEntry reads one raw entry's content after its stamp and hands it to
// emit; end reports the end of the stream.
func readEntry(br *bufio.Reader, content []byte, emit func([]byte) error) (end bool, err error) {
	sinceCheck := len(content) // bytes since the last possible cut point
	for {
		if sinceCheck >= engineChunk {
			if stamped(br) {
				return false, emit(content) // the engine cut the line here
			}
			sinceCheck = 0
		}
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					return true, emit(content)
				}
				return false, fmt.Errorf("reading the log stream: %w", err)
			}
		}
		p, _ := br.Peek(min(br.Buffered(), engineChunk-sinceCheck))
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			content = append(content, p[:i+1]...)
			_, _ = br.Discard(i + 1) // peeked bytes: Discard cannot fail
			return false, emit(content)
		}
		content = append(content, p...)
		_, _ = br.Discard(len(p))
		sinceCheck += len(p)
	}
}

// stamped reports whether the next bytes are an engine timestamp and a
// space. It waits for as few bytes as it needs to tell.
func stamped(br *bufio.Reader) bool {
	for n := 1; n <= maxStampLen; n++ {
		p, err := br.Peek(n)
		if err != nil {
			return false
		}
		if p[n-1] == ' ' {
			_, err := time.Parse(time.RFC3339Nano, string(p[:n-1]))
			return err == nil
		}
		if c := p[n-1]; n == 1 && (c < '0' || c > '9') {
			return false // a stamp starts with the year's digits
		}
	}
	return false
}
