package stream

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// SSE timings, variables so tests can shorten them.
var (
	// SSEHeartbeat is how often an idle stream sends a comment, so that
	// proxies and browsers do not time the connection out.
	SSEHeartbeat = 15 * time.Second
	// SSEWriteTimeout bounds one write to a client. Without it a client
	// that stops reading blocks its handler in Write forever, and the
	// handler never notices that the client's subscription overflowed.
	SSEWriteTimeout = 10 * time.Second
)

// sseRetry is the reconnection delay, in milliseconds, that the stream asks
// EventSource clients to wait.
const sseRetry = 2000

// SSE runs sp as server-sent events until it ends. Each frame is written
// and flushed with a deadline; an idle stream gets a ": keep-alive" comment
// every SSEHeartbeat. A stream that ends early gets a final comment saying
// why, with the resume hint.
func SSE[T any](s *Server, w http.ResponseWriter, r *http.Request, sp Spec[T]) {
	defer s.connected(sp.Endpoint)()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass every event on at once
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w)}
	// The connection may serve further requests once the stream ends: lift
	// the deadline the last write set.
	defer func() { _ = sw.rc.SetWriteDeadline(time.Time{}) }()
	if err := sw.send(fmt.Appendf(nil, "retry: %d\n\n", sseRetry)); err != nil {
		s.Log.Debug("event stream: first write failed", "endpoint", sp.Endpoint, "err", err)
		return
	}
	ctx := r.Context()
	e := run(ctx, sp, sw.send, keepAlive{every: SSEHeartbeat, frame: []byte(": keep-alive\n\n")})
	var last []byte
	switch e.kind {
	case clientGone:
		return
	case finished:
		last = e.last
	case overflowed:
		last = Comment(s.tooSlow(sp.Endpoint, sp.hint()))
	case interrupted:
		last = Comment("stream closed" + sp.hint())
	case failed:
		s.Log.Warn("stream failed", "endpoint", sp.Endpoint, "err", e.err)
		last = Comment("stream failed" + sp.hint())
	}
	if last == nil || ctx.Err() != nil {
		return
	}
	if err := sw.send(last); err != nil {
		s.Log.Debug("event stream: final message not sent", "endpoint", sp.Endpoint, "err", err)
	}
}

// Comment is an SSE comment line, ignored by EventSource but readable by a
// person or a proxy log.
func Comment(msg string) []byte {
	return []byte(": " + strings.NewReplacer("\r", " ", "\n", " ").Replace(msg) + "\n\n")
}

// sseWriter writes whole messages to a stream client and flushes each one,
// with a deadline so a client that stopped reading cannot hold the handler.
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

// send writes one message and flushes it.
func (sw *sseWriter) send(msg []byte) error {
	// Deadlines are best effort: a ResponseWriter that cannot set one still
	// streams, only without protection against a stalled client.
	if err := sw.rc.SetWriteDeadline(time.Now().Add(SSEWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("set deadline: %w", err)
	}
	if _, err := sw.w.Write(msg); err != nil {
		return err
	}
	if err := sw.rc.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}
