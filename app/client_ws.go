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
	// onFrame receives each websocket message.
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
		s.notify(notice{})
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
		if !s.dropped(ctx, &t, err) {
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
	if r, ok := refusalOf(resp.status, target, apiErr); ok {
		s.refuse(t, r)
		return r.retry, r.retry == 0
	}
	if resp.status == http.StatusTooManyRequests {
		secs, _ := strconv.Atoi(resp.header.Get("Retry-After"))
		wait = max(time.Duration(secs)*time.Second, t.failed())
		conns.set(s.name, connReconnecting, apiErr)
		return wait, false
	}
	// The endpoint is there and would upgrade (426) or answered otherwise:
	// a transient failure (a restart, an engine error); retry with backoff.
	wait = t.failed()
	msg := fmt.Sprintf("%v (HTTP %d)", dialErr, resp.status)
	if resp.status >= 500 {
		msg = apiErr
		s.notify(notice{kind: noticeError, msg: apiErr})
	}
	conns.set(s.name, t.state, msg)
	return wait, false
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
