package testenv

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
)

// SSEMessage is one dispatched block of a text/event-stream: the fields of
// the lines up to a blank line. Comments are kept (EventSource drops them)
// so that tests can see heartbeats and the "too slow" notice.
type SSEMessage struct {
	ID, Event, Data, Retry string
	HasID                  bool
	Comments               []string
}

// ReadSSE parses a text/event-stream as the HTML standard describes it: lines
// end with LF, CRLF or CR; a blank line ends a message; "name: value" (one
// space after the colon is dropped), "name" alone means an empty value; data
// lines join with LF; a line starting with ':' is a comment. It sends every
// message on out and closes out at the end of the stream.
func ReadSSE(r io.Reader, out chan<- SSEMessage) error {
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	sc.Split(splitSSELines)
	var m SSEMessage
	var data []string
	empty := true
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if !empty {
				m.Data = strings.Join(data, "\n")
				out <- m
			}
			m, data, empty = SSEMessage{}, nil, true
			continue
		}
		empty = false
		if strings.HasPrefix(line, ":") {
			m.Comments = append(m.Comments, strings.TrimPrefix(line[1:], " "))
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			m.ID, m.HasID = value, true
		case "event":
			m.Event = value
		case "data":
			data = append(data, value)
		case "retry":
			m.Retry = value
		default:
			return errors.New("unknown SSE field " + strconv.Quote(name))
		}
	}
	return sc.Err()
}

// splitSSELines splits at LF, CRLF or CR.
func splitSSELines(data []byte, atEOF bool) (int, []byte, error) {
	for i, c := range data {
		switch c {
		case '\n':
			return i + 1, data[:i], nil
		case '\r':
			if i+1 < len(data) {
				if data[i+1] == '\n' {
					return i + 2, data[:i], nil
				}
				return i + 1, data[:i], nil
			}
			if atEOF {
				return i + 1, data[:i], nil
			}
			return 0, nil, nil // need the next byte to tell CR from CRLF
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
