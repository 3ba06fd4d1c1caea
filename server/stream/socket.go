package stream

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Websocket timings shared by every socket.
const (
	pingTimeout = 10 * time.Second
	pingEvery   = 30 * time.Second
	// maxPingsPerSecond is far above any keep-alive and far below a flood.
	maxPingsPerSecond = 50
)

// Socket upgrades the request and runs sp on the websocket until it ends,
// then closes the socket with a code and reason that say why: 1000 when
// the stream is complete, 1013 with the resume hint for a client that fell
// behind, 1001 when the server interrupted it, 1011 when it failed.
func Socket[T any](s *Server, w http.ResponseWriter, r *http.Request, sp Spec[T]) {
	conn, err := s.accept(w, r)
	if err != nil {
		s.Log.Debug("websocket upgrade refused", "endpoint", sp.Endpoint, "err", err)
		return
	}
	defer conn.CloseNow()
	defer s.connected(sp.Endpoint)()
	ctx := watch(r.Context(), conn)
	write := func(frame []byte) error { return writeWS(ctx, conn, frame) }
	e := run(ctx, sp, write, keepAlive{})
	switch e.kind {
	case clientGone:
		conn.Close(websocket.StatusGoingAway, "client gone")
	case finished:
		if e.last != nil {
			if err := write(e.last); err != nil {
				conn.Close(websocket.StatusGoingAway, "write failed")
				return
			}
		}
		conn.Close(websocket.StatusNormalClosure, closeReason(e.reason))
	case overflowed:
		conn.Close(websocket.StatusTryAgainLater, closeReason(s.tooSlow(sp.Endpoint, sp.hint())))
	case interrupted:
		conn.Close(websocket.StatusGoingAway, closeReason("stream interrupted"+sp.hint()))
	case failed:
		s.Log.Warn("stream failed", "endpoint", sp.Endpoint, "err", e.err)
		conn.Close(websocket.StatusInternalError, closeReason(e.err.Error()))
	}
}

// IsUpgrade reports whether r asks to become a websocket.
func IsUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// accept upgrades the request. coder/websocket refuses (403) an Origin that
// is neither the request's own host nor one of s.AllowedOrigins, so a page
// on another site cannot ride a user's cookie into the engine.
//
// A peer may ping (tools do, to keep a proxy's connection open), but every
// ping costs a pong to write: past maxPingsPerSecond the connection is
// dropped, so a ping flood cannot keep the server writing.
func (s *Server) accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	var conn *websocket.Conn
	var window time.Time
	pings := 0
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:  s.AllowedOrigins,
		CompressionMode: websocket.CompressionDisabled,
		// Called by the connection's reader only, which starts after
		// Accept has returned and conn is set.
		OnPingReceived: func(context.Context, []byte) bool {
			if now := time.Now(); now.Sub(window) > time.Second {
				window, pings = now, 0
			}
			pings++
			if pings <= maxPingsPerSecond {
				return true
			}
			go conn.CloseNow() // not from inside the reader, which CloseNow waits for
			return false
		},
	})
	return conn, err
}

// watch runs a send-only socket: it reads the client's control frames
// (pings, pongs, the close) and returns a context that ends when the client
// goes away. A data message has no place on these sockets and drops the
// connection at once, unread. It is also the socket's watchdog: a ping that
// gets no answer in time, because the peer is dead or no longer reads,
// closes the connection at once, which releases a writer blocked in writeWS.
func watch(ctx context.Context, conn *websocket.Conn) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		// Not conn.CloseRead: on a data message it starts a close
		// handshake, and coder/websocket then reads and discards
		// everything the client sends until its close frame, a byte at a
		// time and with no time limit. A client that announced a
		// terabyte frame, or never stopped sending frames, kept a
		// goroutine busy (about a core) for as long as it liked. Here
		// the connection is dropped as soon as reading ends, whatever
		// ended it (a data message, the client's close frame, which the
		// library has answered by then, a pong that could not be sent to
		// a client that does not read, or the request's end), as
		// CloseRead does in every case but the data message.
		defer conn.CloseNow()
		_, _, _ = conn.Reader(ctx)
	}()
	go func() {
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, cancel := context.WithTimeout(ctx, pingTimeout)
				err := conn.Ping(pctx)
				cancel()
				if err != nil {
					conn.CloseNow()
					return
				}
			}
		}
	}()
	return ctx
}

// writeWS sends one text frame unless ctx has ended. The write itself gets
// no deadline on purpose: with a cancellable context coder/websocket arms a
// timer per write, which at thousands of clients costs more than the write.
// watch's ping watchdog bounds a write that never completes instead.
func writeWS(ctx context.Context, conn *websocket.Conn, frame []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return conn.Write(context.Background(), websocket.MessageText, frame)
}

// closeReason trims a reason to the 123 bytes a close frame can carry.
func closeReason(s string) string {
	if len(s) > 123 {
		return s[:123]
	}
	return s
}

// Duplex upgrades r to a socket that both ends write to (a terminal), under
// the Origin rule and ping limit of every socket (accept), and counts it as
// a client of endpoint until done runs. Unlike Socket it leaves reading the
// client's frames, and closing, to the caller.
func (s *Server) Duplex(w http.ResponseWriter, r *http.Request, endpoint string) (conn *websocket.Conn, done func(), err error) {
	conn, err = s.accept(w, r)
	if err != nil {
		s.Log.Debug("websocket upgrade refused", "endpoint", endpoint, "err", err)
		return nil, nil, err
	}
	return conn, s.connected(endpoint), nil
}
