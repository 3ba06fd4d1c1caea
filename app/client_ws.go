package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// notice is what a page shows about its stream besides data.
type notice struct {
	kind noticeKind
	msg  string
}

// noticeKind says what kind of trouble a stream has.
type noticeKind int

const (
	noticeNone        noticeKind = iota // fine
	noticeUnavailable                   // this server has no such endpoint (an older build)
	noticeError                         // refused: bad request, not allowed, engine failure
	noticeAuth                          // needs a sign-in
)

// stream describes one live connection a page keeps open. Its callbacks run
// on the stream's goroutine: a page moves their effects onto the UI goroutine
// with ctx.Dispatch (and batches frames, which arrive faster than the screen
// needs them).
type stream struct {
	// name identifies the stream in the nav bar's connection state.
	name string
	// target is the path and query to open, asked again before every
	// attempt so a reconnect resumes from the last item seen.
	target func() string
	// onOpen runs when a connection is established (optional).
	onOpen func()
	// onFrame receives each message.
	onFrame func([]byte)
	// onNotice reports trouble, and noticeNone once it is over (optional).
	onNotice func(notice)
}

// wsURL is the ws:// or wss:// URL of a path on this server.
func wsURL(target string) string {
	o := origin()
	if rest, ok := strings.CutPrefix(o, "https://"); ok {
		return "wss://" + rest + target
	}
	return "ws://" + strings.TrimPrefix(o, "http://") + target
}

// runWS keeps a websocket open until ctx ends, reconnecting with backoff.
func runWS(ctx context.Context, s stream) {
	var t connTracker
	defer conns.set(s.name, connIdle, "")
	for ctx.Err() == nil {
		t.connecting()
		conns.set(s.name, t.state, "")
		target := s.target()
		conn, _, err := websocket.Dial(ctx, wsURL(target), nil)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait, stop := diagnose(ctx, s, &t, target, err)
			if stop || !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		t.opened()
		conns.set(s.name, connLive, "")
		notify(s, notice{})
		if s.onOpen != nil {
			s.onOpen()
		}
		err = readWS(ctx, conn, s.onFrame)
		if ctx.Err() != nil {
			conn.Close(websocket.StatusNormalClosure, "page closed")
			return
		}
		if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
			// The server ended the stream on purpose (a container stopped):
			// not an outage. Look again now and then, quietly, in case it
			// starts again.
			t.stopped()
			conns.set(s.name, connIdle, "")
			if !sleepCtx(ctx, 5*time.Second) {
				return
			}
			continue
		}
		// Dropped: the server restarted, or closed a slow client (1013, whose
		// reason carries the since to resume from; target already does).
		logWarn("%s: connection lost, reconnecting: %v", s.name, err)
		wait := t.failed()
		if t.failures == 1 {
			wait = 200 * time.Millisecond // a restart: try again almost at once
		}
		conns.set(s.name, t.state, "connection lost: "+err.Error())
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

// readWS passes every message to onFrame until the connection ends.
func readWS(ctx context.Context, conn *websocket.Conn, onFrame func([]byte)) error {
	conn.SetReadLimit(8 << 20)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		onFrame(data)
	}
}

// diagnose finds out why a dial failed. A browser does not reveal the
// status of a refused websocket upgrade, so a plain GET of the same URL asks
// the server: the handler validates the request before upgrading and says
// what is wrong (400 bad filter, 401, 404 no such endpoint, 429); a fetch
// that fails means the server is unreachable. It returns the wait before the
// next attempt, or stop when retrying cannot help.
func diagnose(ctx context.Context, s stream, t *connTracker, target string, dialErr error) (wait time.Duration, stop bool) {
	fctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	resp, err := doFetch(fctx, fetchRequest{method: http.MethodGet, url: origin() + target})
	if err != nil {
		wait = t.failed()
		conns.set(s.name, t.state, "server unreachable")
		return wait, false
	}
	data, err := io.ReadAll(io.LimitReader(resp.body, 64<<10))
	resp.body.Close()
	if err != nil {
		wait = t.failed()
		conns.set(s.name, t.state, "server unreachable")
		return wait, false
	}
	apiErr := decodeAPIError(resp.status, data).Error()
	switch resp.status {
	case http.StatusNotFound:
		t.stopped()
		conns.set(s.name, connIdle, "")
		notify(s, notice{kind: noticeUnavailable, msg: "this crowsnest server has no " + pathOnly(target) + " endpoint"})
		return time.Minute, false
	case http.StatusBadRequest:
		t.stopped()
		conns.set(s.name, connIdle, "")
		notify(s, notice{kind: noticeError, msg: apiErr})
		return 0, true
	case http.StatusUnauthorized, http.StatusForbidden:
		t.stopped()
		conns.set(s.name, connIdle, "")
		notify(s, notice{kind: noticeAuth, msg: apiErr})
		return 30 * time.Second, false
	case http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.header.Get("Retry-After"))
		wait = max(time.Duration(secs)*time.Second, t.failed())
		conns.set(s.name, connReconnecting, apiErr)
		return wait, false
	default:
		// The endpoint is there and would upgrade (426) or answered otherwise:
		// a transient failure (a restart, an engine error); retry with backoff.
		wait = t.failed()
		msg := fmt.Sprintf("%v (HTTP %d)", dialErr, resp.status)
		if resp.status >= 500 {
			msg = apiErr
			notify(s, notice{kind: noticeError, msg: apiErr})
		}
		conns.set(s.name, t.state, msg)
		return wait, false
	}
}

// pathOnly is target without its query.
func pathOnly(target string) string {
	p, _, _ := strings.Cut(target, "?")
	return p
}

func notify(s stream, n notice) {
	if s.onNotice != nil {
		s.onNotice(n)
	}
}

// sleepCtx waits d, or less when ctx ends first; it reports whether ctx is
// still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
