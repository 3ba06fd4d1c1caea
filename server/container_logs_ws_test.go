package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/api"
)

// logFrame is one frame of the container log socket: a line or a message.
type logFrame struct {
	wire.LogLine
	Message string
	raw     json.RawMessage
}

// nextFrame reads the next frame of c.
func nextFrame(t *testing.T, c *wsClient) logFrame {
	t.Helper()
	var f json.RawMessage
	select {
	case f = <-c.frames:
	case err := <-c.closed:
		// The reader queues every frame before the close: take those first.
		select {
		case f = <-c.frames:
			c.closed <- err
		default:
			t.Fatalf("socket closed: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no frame within 20s")
	}
	{
		var m struct {
			wire.LogLine
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(f, &m); err != nil {
			t.Fatalf("frame does not decode: %v: %s", err, f)
		}
		out := logFrame{LogLine: m.LogLine, raw: f}
		if m.Message != nil {
			out.Message = *m.Message
		} else if m.Stream == "" {
			t.Fatalf("frame is neither a line nor a message: %s", f)
		}
		return out
	}
}

// nextLine reads the next frame of c, which must be a line.
func nextLine(t *testing.T, c *wsClient) logFrame {
	t.Helper()
	f := nextFrame(t, c)
	if f.Message != "" {
		t.Fatalf("got message %q, want a line", f.Message)
	}
	return f
}

// containerLogsURL is the socket URL for container ref with query q.
func containerLogsURL(p *inProcess, ref string, q url.Values) string {
	return p.WS("/api/v1/containers/" + url.PathEscape(ref) + "/logs/ws?" + q.Encode())
}

// lineNumber is N of a helper line "text N".
func lineNumber(t *testing.T, line string) int {
	t.Helper()
	n, err := strconv.Atoi(line[strings.LastIndexByte(line, ' ')+1:])
	if err != nil {
		t.Fatalf("line %q does not end in a number", line)
	}
	return n
}

func TestContainerLogsStreamsSeparated(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	p := startInProcess(t, Config{StreamQueue: 1024})
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "50ms", "-stderr", "-text", "tick"}})
	testenv.WaitLog(t, eng, id, "tick 3")

	c := dialWS(t, containerLogsURL(p, id[:12], url.Values{"tail": {"all"}}), nil)
	expectGreeting(t, c)
	last := map[string]time.Time{}
	seen := map[string]int{}
	for range 20 {
		f := nextLine(t, c)
		want := wire.StreamStdout
		if strings.HasPrefix(f.Line, "err ") {
			want = wire.StreamStderr
		}
		if f.Stream != want {
			t.Errorf("%q came on %s, want %s", f.Line, f.Stream, want)
		}
		if f.Timestamp.IsZero() || f.Timestamp.Before(last[f.Stream]) || time.Since(f.Timestamp) > time.Minute {
			t.Errorf("%q: timestamp %v, previous on its stream %v", f.Line, f.Timestamp, last[f.Stream])
		}
		last[f.Stream] = f.Timestamp
		// Each stream counts up from 1 without a gap or a repeat.
		if n := lineNumber(t, f.Line); n != seen[f.Stream]+1 {
			t.Errorf("%s line %q after number %d", f.Stream, f.Line, seen[f.Stream])
		}
		seen[f.Stream]++
	}
	if seen[wire.StreamStdout] == 0 || seen[wire.StreamStderr] == 0 {
		t.Errorf("lines per stream = %v, want both", seen)
	}
}

func TestContainerLogsTailThenLive(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	p := startInProcess(t, Config{StreamQueue: 1024})
	id, name := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "100ms"}})
	testenv.WaitLog(t, eng, id, "line 12")

	c := dialWS(t, containerLogsURL(p, name, url.Values{"tail": {"5"}}), nil)
	expectGreeting(t, c)
	first := lineNumber(t, nextLine(t, c).Line)
	// The last 5 when connecting: the container had printed at least 12.
	if first < 8 {
		t.Errorf("first line is number %d: want one of the last 5 (at least line 8)", first)
	}
	// Then the rest of the backlog and live lines, without a gap or repeat.
	for want := first + 1; want < first+15; want++ {
		if n := lineNumber(t, nextLine(t, c).Line); n != want {
			t.Fatalf("line number %d, want %d", n, want)
		}
	}
}

func TestContainerLogsSinceAndNoTimestamps(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	p := startInProcess(t, Config{StreamQueue: 1024})
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "50ms"}})
	testenv.WaitLog(t, eng, id, "line 10")

	all := dialWS(t, containerLogsURL(p, id, url.Values{"tail": {"all"}}), nil)
	expectGreeting(t, all)
	var since time.Time
	for i := 1; i <= 6; i++ {
		f := nextLine(t, all)
		if i == 6 {
			since = f.Timestamp
		}
	}
	q := url.Values{"tail": {"all"}, "since": {since.Format(time.RFC3339Nano)}, "timestamps": {"false"}}
	c := dialWS(t, containerLogsURL(p, id, q), nil)
	expectGreeting(t, c)
	f := nextLine(t, c)
	if f.Line != "line 6" {
		t.Errorf("first line since %v = %q, want line 6", since, f.Line)
	}
	if strings.Contains(string(f.raw), "timestamp") {
		t.Errorf("timestamps=false still sends one: %s", f.raw)
	}
	if n := lineNumber(t, nextLine(t, c).Line); n != 7 {
		t.Errorf("second line is %d, want 7", n)
	}
}

func TestContainerLogsTTY(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	p := startInProcess(t, Config{StreamQueue: 1024})
	id, _ := testenv.Run(t, eng, testenv.RunOptions{TTY: true, Args: []string{"-lines", "-1", "-every", "50ms", "-stderr"}})
	testenv.WaitLog(t, eng, id, "line 2")

	c := dialWS(t, containerLogsURL(p, id, url.Values{"tail": {"all"}}), nil)
	expectGreeting(t, c)
	want := []string{"line 1", "err line 1", "line 2", "err line 2", "line 3", "err line 3"}
	for _, w := range want {
		f := nextLine(t, c)
		if f.Line != w || f.Stream != wire.StreamStdout || f.Timestamp.IsZero() {
			t.Errorf("line = %+v, want %q on stdout with a timestamp", f.LogLine, w)
		}
	}
}

func TestContainerLogsLongLine(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	p := startInProcess(t, Config{StreamQueue: 1024})
	// ASCII on purpose: the engine's json-file driver cuts lines every
	// 16 KiB and stores a character cut in two as U+FFFD, before crowsnest
	// sees it. Splitting at character boundaries is unit-tested in
	// internal/logs.
	const text, times = "0123456789abcdef", 1 << 16 // 1 MiB
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "1", "-text", text, "-repeat", strconv.Itoa(times)}})

	c := dialWS(t, containerLogsURL(p, id, nil), nil)
	expectGreeting(t, c)
	var line strings.Builder
	pieces := 0
	for {
		f := nextLine(t, c)
		pieces++
		if len(f.Line) > logs.DefaultMaxLine {
			t.Errorf("piece %d holds %d bytes, more than %d", pieces, len(f.Line), logs.DefaultMaxLine)
		}
		line.WriteString(f.Line)
		if !f.Partial {
			break
		}
	}
	want := strings.Repeat(text, times) + " 1"
	if line.String() != want {
		got := line.String()
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Errorf("reassembled %d bytes from %d pieces, want the %d-byte line intact; first difference at %d: %q", line.Len(), pieces, len(want), i, got[max(i-20, 0):min(i+60, len(got))])
	}
	if pieces < len(want)/logs.DefaultMaxLine {
		t.Errorf("%d pieces for %d bytes", pieces, len(want))
	}
	// The helper exits after its line: the socket says so and closes normally.
	if f := nextFrame(t, c); f.Message != "container stopped" {
		t.Errorf("after the line: %s, want the container stopped message", f.raw)
	}
	if code, reason := c.closeStatus(t, 10*time.Second); code != websocket.StatusNormalClosure {
		t.Errorf("close %d %q, want normal closure", code, reason)
	}
}

// TestContainerLogsOfAnExitedContainer: a viewer of a container that has
// exited gets its whole output before "container stopped". The follow of
// such a container ends as soon as it starts, long before a backlog that
// has to be read from the engine is sent: the stream must still send all
// of it, not end at the follow's end (the stream loop did, on every run).
func TestContainerLogsOfAnExitedContainer(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	p := startInProcess(t, Config{StreamQueue: 1024})
	const lines = 3000 // more than a follow remembers: the backlog reads the engine too
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", strconv.Itoa(lines)}})
	testenv.WaitExit(t, eng, id)

	for view := range 3 { // a new follow each time once the last one ended
		c := dialWS(t, containerLogsURL(p, id, url.Values{"tail": {"all"}}), nil)
		expectGreeting(t, c)
		for want := 1; want <= lines; want++ {
			if n := lineNumber(t, nextLine(t, c).Line); n != want {
				t.Fatalf("view %d: line number %d, want %d", view, n, want)
			}
		}
		if f := nextFrame(t, c); f.Message != "container stopped" {
			t.Errorf("view %d: after the lines: %s, want the container stopped message", view, f.raw)
		}
		if code, reason := c.closeStatus(t, 10*time.Second); code != websocket.StatusNormalClosure {
			t.Errorf("view %d: close %d %q, want normal closure", view, code, reason)
		}
	}
}

func TestContainerLogsShareOneFollow(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	p := startInProcess(t, Config{StreamQueue: 1024}, func(o *api.Options) {
		o.ContainerLogs = logs.NewStreams(logs.Options{Grace: 200 * time.Millisecond})
	})
	id, name := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "50ms"}})
	testenv.WaitLog(t, eng, id, "line 3")

	a := dialWS(t, containerLogsURL(p, id, url.Values{"tail": {"2"}}), nil)
	b := dialWS(t, containerLogsURL(p, name, url.Values{"tail": {"2"}}), nil) // by name: the same follow
	expectGreeting(t, a)
	expectGreeting(t, b)
	// Read until both have passed the same line, then compare a run of lines.
	la, lb := lineNumber(t, nextLine(t, a).Line), lineNumber(t, nextLine(t, b).Line)
	for la < lb {
		la = lineNumber(t, nextLine(t, a).Line)
	}
	for lb < la {
		lb = lineNumber(t, nextLine(t, b).Line)
	}
	for range 5 {
		fa, fb := nextLine(t, a), nextLine(t, b)
		if fa.Line != fb.Line || !fa.Timestamp.Equal(fb.Timestamp) {
			t.Errorf("viewers differ: %+v vs %+v", fa.LogLine, fb.LogLine)
		}
	}
	cl := p.containerLogs
	if f, h, bl := cl.Requests(logs.RequestFollow), cl.Requests(logs.RequestHistory), cl.Requests(logs.RequestBacklog); f != 1 || h != 1 || bl != 0 {
		t.Errorf("engine log requests: follow %d history %d backlog %d, want 1, 1, 0", f, h, bl)
	}
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := `crowsnest_container_log_requests_total{kind="follow"} 1`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	// When both leave, the follow stops after the grace period.
	a.conn.Close(websocket.StatusNormalClosure, "")
	b.conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for cl.Followers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the follow outlived its viewers")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestContainerLogsRefusals(t *testing.T) {
	t.Parallel()
	testenv.Engine(t)
	p := startInProcess(t, Config{StreamQueue: 1024})
	for _, c := range []struct {
		ref    string
		q      url.Values
		status int
	}{
		{"cn-no-such-container-" + fmt.Sprint(time.Now().UnixNano()), nil, http.StatusNotFound},
		{"anything", url.Values{"host": {"Nowhere"}}, http.StatusNotFound},
		{"anything", url.Values{"tail": {"-3"}}, http.StatusBadRequest},
		{"anything", url.Values{"since": {"yesterday"}}, http.StatusBadRequest},
		{"anything", url.Values{"timestamps": {"maybe"}}, http.StatusBadRequest},
	} {
		status, body := dialStatus(t, containerLogsURL(p, c.ref, c.q), nil)
		if status != c.status || !strings.Contains(body, `"message"`) {
			t.Errorf("%s?%s: %d %s, want %d with a message", c.ref, c.q.Encode(), status, body, c.status)
		}
	}
}
