package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// Websocket timings shared by every socket.
const (
	wsPingTimeout = 10 * time.Second
	wsPingEvery   = 30 * time.Second
	// wsMaxPingsPerSecond is far above any keep-alive and far below a flood.
	wsMaxPingsPerSecond = 50
)

// acceptWS upgrades the request. coder/websocket refuses (403) an Origin that
// is neither the request's own host nor one of --allowed-origin, so a page on
// another site cannot ride a user's cookie into the engine.
//
// A peer may ping (tools do, to keep a proxy's connection open), but every
// ping costs a pong to write: past wsMaxPingsPerSecond the connection is
// dropped, so a ping flood cannot keep the server writing.
func (s *Server) acceptWS(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	var conn *websocket.Conn
	var window time.Time
	pings := 0
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:  s.cfg.AllowedOrigins,
		CompressionMode: websocket.CompressionDisabled,
		// Called by the connection's reader only, which starts after
		// Accept has returned and conn is set.
		OnPingReceived: func(context.Context, []byte) bool {
			if now := time.Now(); now.Sub(window) > time.Second {
				window, pings = now, 0
			}
			pings++
			if pings <= wsMaxPingsPerSecond {
				return true
			}
			go conn.CloseNow() // not from inside the reader, which CloseNow waits for
			return false
		},
	})
	return conn, err
}

// serveSocket upgrades the request and runs stream on the socket: the client
// is counted on /metrics under endpoint while connected, serveWS watches the
// connection, and the socket is closed with the code and reason stream
// returns. Every crowsnest socket is served through it.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request, endpoint string, stream func(context.Context, *websocket.Conn) (websocket.StatusCode, string)) {
	conn, err := s.acceptWS(w, r)
	if err != nil {
		s.log.Debug("websocket upgrade refused", "endpoint", endpoint, "err", err)
		return
	}
	defer conn.CloseNow()
	clients := s.metrics.clients.WithLabelValues(endpoint)
	clients.Inc()
	defer clients.Dec()
	code, reason := stream(serveWS(r.Context(), conn), conn)
	conn.Close(code, reason)
}

// writeJSONWS sends v as one JSON text frame (see writeWS).
func writeJSONWS(ctx context.Context, conn *websocket.Conn, v any) error {
	frame, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding a frame: %w", err)
	}
	if err := writeWS(ctx, conn, frame); err != nil {
		return fmt.Errorf("writing a frame: %w", err)
	}
	return nil
}

// serveWS runs a send-only socket: it reads the client's control frames
// (pings, pongs, the close) and returns a context that ends when the client
// goes away. A data message has no place on these sockets and drops the
// connection at once, unread. It is also the socket's watchdog: a ping that
// gets no answer in time, because the peer is dead or no longer reads,
// closes the connection at once, which releases a writer blocked in writeWS.
func serveWS(ctx context.Context, conn *websocket.Conn) context.Context {
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
		t := time.NewTicker(wsPingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, cancel := context.WithTimeout(ctx, wsPingTimeout)
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
// serveWS's watchdog bounds a write that never completes instead.
func writeWS(ctx context.Context, conn *websocket.Conn, frame []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return conn.Write(context.Background(), websocket.MessageText, frame)
}
