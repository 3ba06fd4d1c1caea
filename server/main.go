// Command crowsnest watches Docker engines and serves their container events,
// a durable event store and a web UI over wire-compatible public APIs.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crowsnest:", err)
		os.Exit(1)
	}
}

// run starts crowsnest and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, logRing, err := newLogger(cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	auth, err := newAuthenticator(cfg, log)
	if err != nil {
		return err
	}
	if err := cfg.checkExposure(auth.configured()); err != nil {
		return err
	}
	tlsCfg, err := serverTLS(cfg)
	if err != nil {
		return err
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "crowsnest.db"), store.Options{
		Retention: cfg.Retention, MaxEvents: cfg.MaxEvents, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("open event store: %w", err)
	}
	defer st.Close()
	if auth.sessions, err = store.NewSessions(st); err != nil {
		return fmt.Errorf("open session store: %w", err)
	}

	var srv *Server
	engines, err := docker.New(docker.Options{
		Hosts:   withLocalhost(cfg.Hosts),
		Logger:  log,
		Journal: countedJournal{docker.StoreJournal(st), func(n int) { srv.metrics.eventsIn.WithLabelValues("engine").Add(float64(n)) }},
	})
	if err != nil {
		return fmt.Errorf("engines: %w", err)
	}
	defer engines.Close()
	srv = newServer(cfg, log, st, engines, auth)
	srv.logs = logRing
	defer srv.containerLogs.Close()
	go func() {
		if err := engines.Run(ctx); err != nil {
			log.Error("engines stopped", "err", err)
		}
	}()
	go srv.feed.run(ctx, st)
	stopStacks, err := srv.startStacks(ctx)
	if err != nil {
		return err
	}
	defer stopStacks() // before st.Close: running actions end and their messages are stored
	stopStats, err := srv.startStats(ctx)
	if err != nil {
		return err
	}
	defer stopStats() // the collector ends before the engines' clients close
	stopHistory, err := srv.startHistory(ctx)
	if err != nil {
		return err
	}
	defer stopHistory() // the sampler ends before the collector it reads
	h, err := srv.handler()
	if err != nil {
		return err
	}
	return serveHTTP(ctx, cfg, h, log, tlsCfg)
}

// withLocalhost puts the local engine first unless a host already has its name.
func withLocalhost(hosts []docker.HostConfig) []docker.HostConfig {
	for _, h := range hosts {
		if h.Name == docker.DefaultHostName {
			return hosts
		}
	}
	return append([]docker.HostConfig{docker.DefaultHost()}, hosts...)
}

// countedJournal counts the engine events stored, for /metrics.
type countedJournal struct {
	docker.Journal
	stored func(n int)
}

func (j countedJournal) Store(ctx context.Context, events []wire.ContainerEvent) error {
	if err := j.Journal.Store(ctx, events); err != nil {
		return err
	}
	j.stored(len(events))
	return nil
}

// Listener timeouts, variables so tests can shorten them. readHeaderTimeout
// cuts a client that opens a connection and never finishes its request
// header (slowloris); it also bounds the TLS handshake, which net/http
// derives from it. idleTimeout closes kept-alive connections nobody uses.
var (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// serveHTTP listens until ctx ends, then drains connections for a while.
// With tlsCfg (see serverTLS) it serves https and wss.
func serveHTTP(ctx context.Context, cfg Config, h http.Handler, log *slog.Logger, tlsCfg *tls.Config) error {
	// No ReadTimeout or WriteTimeout: they bound a connection's whole
	// request, so they would cut every websocket and SSE stream. The
	// request/response routes get per-request deadlines instead
	// (withDeadlines), and the streams bound their own writes (the
	// websocket ping watchdog, sseWriteTimeout).
	hs := &http.Server{
		Addr:              cfg.Addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
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
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
