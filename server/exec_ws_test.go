package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// The exec tests' credentials.
const (
	execAdmin = "admin:exec-admin-secret-0123456789"
	execRead  = "read:exec-read-secret-0123456789"
)

// bearer is the Authorization header of a SCOPE:TOKEN credential.
func bearer(cred string) http.Header {
	_, token, _ := strings.Cut(cred, ":")
	return http.Header{"Authorization": {"Bearer " + token}}
}

// term is a script's end of an exec socket: it collects the terminal's
// output and notes the exit frame and the close, in the order they came.
type term struct {
	conn    *websocket.Conn
	keep    bool // keep all output (else only its count and last bytes)
	mu      sync.Mutex
	out     []byte
	n       int
	exit    *wire.ExecFrame
	closed  error // the read error that ended the socket
	changed chan struct{}
}

// dialTerm opens an exec socket on s for container ref with query q.
func dialTerm(t testing.TB, s *liveServer, ref string, q url.Values, keep bool) *term {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := s.WS("/api/v1/containers/" + url.PathEscape(ref) + "/exec/ws?" + q.Encode())
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: bearer(execAdmin)})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", u, err, status)
	}
	conn.SetReadLimit(1 << 20)
	c := &term{conn: conn, keep: keep, changed: make(chan struct{}, 1)}
	go c.read()
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

func (c *term) read() {
	for {
		typ, data, err := c.conn.Read(context.Background())
		c.mu.Lock()
		switch {
		case err != nil:
			c.closed = err
		case typ == websocket.MessageBinary:
			c.n += len(data)
			if c.keep {
				c.out = append(c.out, data...)
			} else {
				c.out = append(c.out, data...)
				c.out = c.out[max(0, len(c.out)-256):]
			}
		default:
			var f wire.ExecFrame
			if json.Unmarshal(data, &f) != nil || f.Type != "exit" || c.exit != nil {
				c.closed = fmt.Errorf("unexpected text frame %s", data)
			} else {
				c.exit = &f
			}
		}
		c.mu.Unlock()
		select {
		case c.changed <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// typeIn sends keystrokes.
func (c *term) typeIn(t testing.TB, s string) {
	t.Helper()
	if err := c.conn.Write(context.Background(), websocket.MessageBinary, []byte(s)); err != nil {
		t.Fatalf("typing %q: %v", s, err)
	}
}

// resize sends a resize frame.
func (c *term) resize(t testing.TB, cols, rows int) {
	t.Helper()
	f := fmt.Sprintf(`{"type":"resize","cols":%d,"rows":%d}`, cols, rows)
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(f)); err != nil {
		t.Fatalf("resizing: %v", err)
	}
}

// waitOutput waits until the output holds want, and returns it.
func (c *term) waitOutput(t testing.TB, want string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		out, closed := string(c.out), c.closed
		c.mu.Unlock()
		if strings.Contains(out, want) {
			return out
		}
		if closed != nil {
			t.Fatalf("socket closed (%v) before the output held %q; it holds %q", closed, want, out)
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("output never held %q; it holds %q", want, out)
		}
	}
}

// waitClosed waits for the end of the socket and returns the exit frame
// (nil without one) and the close status.
func (c *term) waitClosed(t testing.TB) (*wire.ExecFrame, websocket.StatusCode, string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		exit, closed := c.exit, c.closed
		c.mu.Unlock()
		if closed != nil {
			var ce websocket.CloseError
			if errors.As(closed, &ce) {
				return exit, ce.Code, ce.Reason
			}
			return exit, -1, closed.Error()
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatal("socket still open after 30s")
		}
	}
}

// execEvents are the exec events stored for container name.
func execEvents(t *testing.T, s *liveServer, name string) []wire.Event {
	t.Helper()
	resp, body := get(t, s.URL+"/api/v1/events?type=exec&tag="+url.QueryEscape("container:"+name), bearer(execAdmin))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("listing exec events: %d %s", resp.StatusCode, body)
	}
	var evs []wire.Event
	if err := json.Unmarshal(body, &evs); err != nil {
		t.Fatalf("exec events %s: %v", body, err)
	}
	return evs
}

// shellSession is the scenario every engine passes: a script types into
// the default shell and reads the answer, resizes the terminal and sees it
// in stty size, and exit 3 ends the socket with code 3, the exit frame
// first; the session is stored as two exec events.
func shellSession(t *testing.T, s *liveServer, host, name string) {
	c := dialTerm(t, s, name, url.Values{"host": {host}}, true)
	c.typeIn(t, "echo $((6*7))\r")
	if out := c.waitOutput(t, "\n42\r\n"); !strings.Contains(out, "echo $((6*7))") {
		t.Errorf("the typed command was not echoed: %q", out)
	}
	c.resize(t, 123, 45)
	c.typeIn(t, "stty size\r")
	c.waitOutput(t, "45 123\r\n")
	c.typeIn(t, "exit 3\r")
	exit, code, reason := c.waitClosed(t)
	if exit == nil || exit.Code == nil || *exit.Code != 3 {
		t.Fatalf("exit frame %+v before the close (%d %q), want code 3", exit, code, reason)
	}
	if code != websocket.StatusNormalClosure {
		t.Errorf("close %d %q, want a normal closure", code, reason)
	}

	var start, end *wire.ExecSession
	var evs []wire.Event
	deadline := time.Now().Add(10 * time.Second)
	for end == nil && time.Now().Before(deadline) {
		evs = execEvents(t, s, name)
		start, end = nil, nil
		for _, ev := range evs {
			var v wire.ExecSession
			if err := json.Unmarshal(ev.Value, &v); err != nil {
				t.Fatalf("exec event value %s: %v", ev.Value, err)
			}
			switch {
			case slices.Contains(ev.Tags, wire.ExecStartTag):
				start = &v
			case slices.Contains(ev.Tags, wire.ExecEndTag):
				end = &v
			}
			for _, tag := range []string{"host:" + host, "actor:" + v.Actor.Credential} {
				if !slices.Contains(ev.Tags, tag) {
					t.Errorf("exec event tags %v lack %s", ev.Tags, tag)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if start == nil || end == nil || len(evs) != 2 {
		t.Fatalf("exec events %+v, want a start and an end", evs)
	}
	wantActor := wire.Caller{Scope: "admin", Credential: "token-" + tokenPrefix(execAdmin)}
	if start.Actor != wantActor || start.Container != name || start.Host != host ||
		!slices.Equal(start.Command, []string{"/bin/sh"}) || start.Start.IsZero() || start.End != nil {
		t.Errorf("start record %+v", start)
	}
	if end.Actor != wantActor || end.ExitCode == nil || *end.ExitCode != 3 || end.End == nil ||
		!end.End.After(end.Start) || end.Duration <= 0 || !end.Start.Equal(start.Start) {
		t.Errorf("end record %+v", end)
	}
	for _, ev := range evs {
		if bytes.Contains(ev.Value, []byte("6*7")) || bytes.Contains(ev.Value, []byte("stty")) {
			t.Errorf("an exec event records what was typed or printed: %s", ev.Value)
		}
	}
}

// tokenPrefix is the first 8 hex digits of the SHA-256 of cred's token.
func tokenPrefix(cred string) string {
	_, token, _ := strings.Cut(cred, ":")
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:4])
}

func TestExecShellDocker(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	_, name := testenv.Run(t, eng, testenv.RunOptions{Image: testenv.ShellImage(t, eng)})
	s := startServer(t, "--token", execAdmin, "--token", execRead)
	shellSession(t, s, "Localhost", name)
}

func TestExecShellPodman(t *testing.T) {
	p := testenv.Podman(t)
	_, name := testenv.Run(t, p.Client(), testenv.RunOptions{Image: testenv.ShellImage(t, p.Client())})
	s := startServer(t, "--host", "podman="+p.URL(), "--token", execAdmin, "--token", execRead)
	shellSession(t, s, "podman", name)
}

// TestExecRefusals: what may not open a shell does not, and nothing
// forges the record.
func TestExecRefusals(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	image := testenv.ShellImage(t, eng)
	_, name := testenv.Run(t, eng, testenv.RunOptions{Image: image})
	_, stopped := testenv.Run(t, eng, testenv.RunOptions{Image: image, NoStart: true})
	s := startServer(t, "--token", execAdmin, "--token", execRead)
	off := startServer(t, "--token", execAdmin, "--no-exec")
	sock := func(s *liveServer, ref string) string {
		return s.WS("/api/v1/containers/" + ref + "/exec/ws")
	}
	withOrigin := bearer(execAdmin)
	withOrigin.Set("Origin", "http://evil.example")
	for _, tc := range []struct {
		what   string
		url    string
		header http.Header
		want   int
		says   string
	}{
		{"no credential", sock(s, name), nil, http.StatusUnauthorized, "authentication required"},
		{"a read credential", sock(s, name), bearer(execRead), http.StatusForbidden, "needs the admin scope"},
		{"another origin", sock(s, name), withOrigin, http.StatusForbidden, "another origin"},
		{"--no-exec", sock(off, name), bearer(execAdmin), http.StatusForbidden, "--no-exec"},
		{"an unknown container", sock(s, "no-such-container-x"), bearer(execAdmin), http.StatusNotFound, "no such container"},
		{"a stopped container", sock(s, stopped), bearer(execAdmin), http.StatusConflict, "not running"},
		{"a bad size", sock(s, name) + "?cols=0", bearer(execAdmin), http.StatusBadRequest, "cols"},
	} {
		status, body := dialStatus(t, tc.url, &websocket.DialOptions{HTTPHeader: tc.header})
		if status != tc.want || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.what, status, body, tc.want, tc.says)
		}
	}
	if evs := execEvents(t, s, name); len(evs) != 0 {
		t.Errorf("refused sockets were recorded as sessions: %+v", evs)
	}

	// A client cannot post an exec event, alone or in a list.
	for _, body := range []string{
		`{"type":"exec","tags":["container:` + name + `"],"value":{"exitCode":0}}`,
		`[{"type":"deploy"},{"type":"exec","tags":["container:` + name + `"]}]`,
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/events", strings.NewReader(body))
		req.Header = bearer(execAdmin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", body, resp.StatusCode)
		}
	}
	if evs := execEvents(t, s, name); len(evs) != 0 {
		t.Errorf("posted exec events were stored: %+v", evs)
	}
}

// TestExecIdleTimeout: a session with neither input nor output for
// --exec-idle-timeout ends, and its shell with it.
func TestExecIdleTimeout(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	id, name := testenv.Run(t, eng, testenv.RunOptions{Image: testenv.ShellImage(t, eng)})
	s := startServer(t, "--token", execAdmin, "--exec-idle-timeout", "2s")
	c := dialTerm(t, s, name, url.Values{"cmd": {"ash"}}, true)
	c.typeIn(t, "echo rea''dy\r")
	c.waitOutput(t, "ready")
	exit, code, reason := c.waitClosed(t)
	if exit != nil || code != websocket.StatusGoingAway || !strings.Contains(reason, "idle for 2s") {
		t.Errorf("idle session ended with exit %+v, close %d %q; want 1001 saying idle", exit, code, reason)
	}
	waitNoProcess(t, eng, id, "ash")
}

// waitNoProcess waits until no process of container id runs a command
// line holding cmd.
func waitNoProcess(t testing.TB, eng *client.Client, id, cmd string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		top, err := eng.ContainerTop(context.Background(), id, client.ContainerTopOptions{})
		if err != nil {
			t.Fatalf("top of %s: %v", id, err)
		}
		running := false
		for _, p := range top.Processes {
			running = running || strings.Contains(strings.Join(p, " "), cmd)
		}
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q still runs in the container: %v", cmd, top.Processes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestExecLoad: twenty sessions print 1 MB each at once beside a client
// that reads nothing: every session gets all its output, the stalled one
// is closed and its process ends, and the heap stays bounded meanwhile.
func TestExecLoad(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	id, name := testenv.Run(t, eng, testenv.RunOptions{Image: testenv.ShellImage(t, eng)})
	s := startServer(t, "--token", execAdmin)
	before := heapInUse()

	// The stalled client: its shell prints for ever, and it never reads.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stalled, _, err := websocket.Dial(ctx, s.WS("/api/v1/containers/"+name+"/exec/ws?cmd=yes+stalled"),
		&websocket.DialOptions{HTTPHeader: bearer(execAdmin)})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.CloseNow()

	var peak uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak = max(peak, heapInUse())
			select {
			case <-stopSampling:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	const sessions, size = 20, 1_000_000
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			c := dialTerm(t, s, name, url.Values{"cmd": {"sh", "-c", fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x; echo; echo done-%d", size, i)}}, false)
			exit, code, reason := c.waitClosed(t)
			c.mu.Lock()
			defer c.mu.Unlock()
			if exit == nil || exit.Code == nil || *exit.Code != 0 || code != websocket.StatusNormalClosure {
				t.Errorf("session %d: exit %+v, close %d %q", i, exit, code, reason)
			}
			if want := fmt.Sprintf("done-%d", i); c.n < size || !bytes.Contains(c.out, []byte(want)) {
				t.Errorf("session %d: %d bytes ending %q, want %d x and %s", i, c.n, c.out, size, want)
			}
		})
	}
	wg.Wait()
	close(stopSampling)
	<-sampled
	if peak > before && peak-before > 32<<20 {
		t.Errorf("heap peaked %d MiB above its %d MiB before the sessions", (peak-before)>>20, before>>20)
	}

	// The stalled client is closed and its process ends with it.
	waitNoProcess(t, eng, id, "yes stalled")
	stalled.SetReadLimit(1 << 20)
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	for {
		if _, _, err := stalled.Read(rctx); err != nil {
			if rctx.Err() != nil {
				t.Error("the stalled socket is still open")
			}
			break
		}
	}
}
