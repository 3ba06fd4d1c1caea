package main

import (
	"context"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// Websocket timings shared by every socket.
const (
	wsWriteTimeout = 10 * time.Second
	wsPingEvery    = 30 * time.Second
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
// control frames are expected), pings so dead peers are noticed, and returns
// a context that ends when the client goes away.
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
				pctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
				err := conn.Ping(pctx)
				cancel()
				if err != nil {
					conn.Close(websocket.StatusGoingAway, "ping timed out")
					return
				}
			}
		}
	}()
	return ctx
}

// writeWS sends one text frame, giving up after wsWriteTimeout.
func writeWS(ctx context.Context, conn *websocket.Conn, frame []byte) error {
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, frame)
}
