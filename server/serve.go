package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// Listener timeouts, variables so tests can shorten them. readHeaderTimeout
// cuts a client that opens a connection and never finishes its request
// header (slowloris); it also bounds the TLS handshake, which net/http
// derives from it. idleTimeout closes kept-alive connections nobody uses.
var (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Request header limits. net/http answers a header over its MaxHeaderBytes
// with a plain-text 431 of its own, before any handler, so it is given room
// above maxHeaderBytes: a header between the two gets the API's JSON 431
// from headerTooLarge, and only a header past headerHardLimit (which bounds
// what one connection may make the server buffer) gets net/http's text.
const (
	maxHeaderBytes  = 64 << 10
	headerHardLimit = 1 << 20
)

// serveHTTP listens until ctx ends, then drains connections for a while.
// With tlsCfg (see serverTLS) it serves https and wss.
func serveHTTP(ctx context.Context, cfg Config, h http.Handler, log *slog.Logger, tlsCfg *tls.Config) error {
	// No ReadTimeout or WriteTimeout: they bound a connection's whole
	// request, so they would cut every websocket and SSE stream. The
	// request/response routes get per-request deadlines instead
	// (withDeadlines), and the streams bound their own writes (the
	// websocket ping watchdog, sseWriteTimeout).
	// Shutdown does not wait for hijacked connections (websockets), so
	// handlers are counted here and waited for: none still runs, writing
	// to the store or the log, once serveHTTP has returned.
	var handlers sync.WaitGroup
	hs := &http.Server{
		Addr: cfg.Addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handlers.Add(1)
			defer handlers.Done()
			if headerTooLarge(w, r) {
				return
			}
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    headerHardLimit,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		TLSConfig:         tlsCfg,
		// Requests inherit ctx, so at shutdown the long-lived ones (SSE,
		// websockets) end at once; Shutdown then waits only for short ones.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	log.Info("crowsnest listening", "url", scheme+"://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			errc <- hs.ServeTLS(ln, "", "") // the pair is in hs.TLSConfig
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	handlers.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// headerTooLarge answers 431 with the JSON error when r's request line and
// header fields (counted as sent: name, ": ", value, CRLF) pass
// maxHeaderBytes, and reports whether it did.
func headerTooLarge(w http.ResponseWriter, r *http.Request) bool {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + 4
		}
	}
	if n <= maxHeaderBytes {
		return false
	}
	w.Header().Set("Connection", "close")
	respond.Error(w, http.StatusRequestHeaderFieldsTooLarge,
		fmt.Sprintf("request line and header of %d bytes: the limit is %d", n, maxHeaderBytes))
	return true
}
