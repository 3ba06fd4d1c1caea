package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/feed"
	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/api"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// liveServer is a whole crowsnest, started by run() as the binary starts it,
// on a free loopback port with its own data directory.
type liveServer struct {
	t    testing.TB
	URL  string // http://127.0.0.1:port
	Data string
	stop context.CancelFunc
	done chan error
	once sync.Once
}

// startServer runs crowsnest with args added to a loopback address and a
// fresh data directory, and waits until it answers /healthz (200, or 503
// from a replica whose NATS store does not answer yet).
func startServer(t testing.TB, args ...string) *liveServer {
	t.Helper()
	return startServerIn(t, t.TempDir(), args...)
}

// startServerIn is startServer on a given data directory, to restart on the same store.
func startServerIn(t testing.TB, data string, args ...string) *liveServer {
	t.Helper()
	return startServerAt(t, freeAddr(t), data, args...)
}

// startServerAt is startServer on a given address and data directory, so a
// restarted server is the same origin to a browser (see restartServer).
func startServerAt(t testing.TB, addr, data string, args ...string) *liveServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &liveServer{t: t, URL: "http://" + addr, Data: data, stop: cancel, done: make(chan error, 1)}
	all := append([]string{"--addr", addr, "--data", data, "--log-level", "warn"}, args...)
	go func() { s.done <- run(ctx, all, os.Getenv, testWriter{t}) }()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusServiceUnavailable {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("crowsnest exited at start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("crowsnest did not answer /healthz: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server and waits for it; safe to call twice.
func (s *liveServer) Stop() {
	s.once.Do(func() {
		s.stop()
		if err := <-s.done; err != nil {
			s.t.Errorf("crowsnest stopped with an error: %v", err)
		}
	})
}

// WS is the ws:// form of the server's URL plus path.
func (s *liveServer) WS(path string) string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + path
}

// freeAddr picks a free loopback port.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testWriter sends the server's log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// wsClient reads JSON frames of one socket into a channel.
type wsClient struct {
	conn   *websocket.Conn
	frames chan json.RawMessage
	closed chan error // the read error that ended the socket
}

// dialWS opens a socket and starts reading it; it fails the test on refusal.
func dialWS(t testing.TB, url string, opts *websocket.DialOptions) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	conn.SetReadLimit(4 << 20)
	c := &wsClient{conn: conn, frames: make(chan json.RawMessage, 4096), closed: make(chan error, 1)}
	go func() {
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				c.closed <- err
				return
			}
			c.frames <- data
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

// dialStatus is the HTTP status of a refused upgrade (0 when it succeeded).
func dialStatus(t testing.TB, url string, opts *websocket.DialOptions) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, opts)
	if err == nil {
		conn.CloseNow()
		return 0, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(resp.Body)
	}
	return resp.StatusCode, string(body)
}

// closeStatus is the close code and reason that ended a socket, waiting up to d.
func (c *wsClient) closeStatus(t testing.TB, d time.Duration) (websocket.StatusCode, string) {
	t.Helper()
	select {
	case err := <-c.closed:
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		return -1, err.Error()
	case <-time.After(d):
		t.Fatalf("socket still open after %v", d)
		return 0, ""
	}
}

// inProcess is the HTTP surface built in the test process around a real
// store and the real local engine, as run builds it but without stacks,
// stats, history or alerts (their endpoints answer 503), so a test can
// append events straight to its store (an engine cannot be made to emit
// thousands of events quickly).
type inProcess struct {
	URL           string
	store         store.Store
	feed          *feed.Feed
	containerLogs *logs.Streams
}

// startInProcess serves the API with cfg's settings (Addr and DataDir are
// ignored) on an httptest listener; with is applied to the options
// before the API is built. Limits default to off unless cfg sets them.
func startInProcess(tb testing.TB, cfg Config, with ...func(*api.Options)) *inProcess {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(filepath.Join(tb.TempDir(), "crowsnest.db"), store.Options{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	engines, err := docker.New(docker.Options{
		Hosts:   []docker.HostConfig{docker.DefaultHost()},
		Logger:  log,
		Journal: discardJournal{},
	})
	if err != nil {
		tb.Fatal(err)
	}
	authn, err := auth.New(cfg.authOptions(), log)
	if err != nil {
		tb.Fatal(err)
	}
	sessions, err := store.NewSessions(st)
	if err != nil {
		tb.Fatal(err)
	}
	authn.UseSessions(sessions)
	o := cfg.apiOptions()
	o.Logger, o.Store, o.Engines, o.Feed, o.Auth = log, st, engines, feed.New(log), authn
	o.ContainerLogs = logs.NewStreams(logs.Options{Logger: log})
	for _, w := range with {
		w(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		o.Feed.Run(ctx, st)
		close(done)
	}()
	h, err := api.New(o).Handler()
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(h)
	tb.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		o.ContainerLogs.Close()
		cancel()
		<-done
		if err := st.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
		if err := engines.Close(); err != nil {
			tb.Errorf("close engines: %v", err)
		}
	})
	return &inProcess{URL: hs.URL, store: st, feed: o.Feed, containerLogs: o.ContainerLogs}
}

// WS is the ws:// form of the server's URL plus path.
func (p *inProcess) WS(path string) string {
	return "ws" + strings.TrimPrefix(p.URL, "http") + path
}

// discardJournal drops engine events: in-process servers serve what tests
// post, undisturbed by other packages' containers on the shared engine.
type discardJournal struct{}

func (discardJournal) Store(context.Context, []wire.ContainerEvent) error { return nil }
func (discardJournal) Recent(context.Context, string, time.Duration) ([]wire.ContainerEvent, error) {
	return nil, nil
}
func (discardJournal) Gap(context.Context, wire.Gap) error { return nil }
func (discardJournal) Start(_ context.Context, _ string, now int64) (int64, error) {
	return now, nil
}
func (discardJournal) LastActions(context.Context, string, int) (map[string]wire.ContainerEvent, error) {
	return nil, nil
}
