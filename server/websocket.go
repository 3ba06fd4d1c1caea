package main

import (
	"context"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// Websocket timings shared by every socket.
const (
	wsPingTimeout = 10 * time.Second
	wsPingEvery   = 30 * time.Second
)

// acceptWS upgrades the request. coder/websocket refuses (403) an Origin that
// is neither the request's own host nor one of --allowed-origin, so a page on
// another site cannot ride a user's cookie into the engine.
func (s *Server) acceptWS(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	return websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:  s.cfg.AllowedOrigins,
		CompressionMode: websocket.CompressionDisabled,
	})
}

// serveWS runs a send-only socket: it discards what the client sends (only
// control frames are expected) and returns a context that ends when the
// client goes away. It is also the socket's watchdog: a ping that gets no
// answer in time, because the peer is dead or no longer reads, closes the
// connection at once, which releases a writer blocked in writeWS.
func serveWS(ctx context.Context, conn *websocket.Conn) context.Context {
	ctx = conn.CloseRead(ctx)
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
