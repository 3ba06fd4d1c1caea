package main

import (
	"log/slog"
	"net/http"

	"github.com/crowsnest-hq/crowsnest/internal/feed"
	"github.com/crowsnest-hq/crowsnest/server/stream"

	"github.com/crowsnest-hq/crowsnest/internal/alerts"
	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/history"
	"github.com/crowsnest-hq/crowsnest/internal/lease"
	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/stacks"
	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/store"
)

// Server holds what the HTTP handlers share.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	engines *docker.Engines
	feed    *feed.Feed
	auth    *authenticator
	limits  *limiter
	metrics *metrics
	streams *stream.Server
	// stats is set by startStats, before serving; nil in tests that do
	// not start it, and then the stats and containers endpoints answer 503.
	stats        *stats.Collector
	statsMetrics *statsMetrics
	// history is set by startHistory, before serving; nil in tests that
	// do not start it, and then the stats history endpoints answer 503.
	history *history.Store
	// logs keeps the server's own records for /logs/ws (set by run; nil in
	// tests that do not set it, and then /logs/ws answers 503);
	// containerLogs shares one engine follow per container among viewers.
	logs          *logs.Ring
	containerLogs *logs.Streams
	// stacks is set by startStacks, before serving; nil in tests that do
	// not start it, and then the stack endpoints answer 503.
	stacks *stacks.Manager
	// alerts is set by startAlerts, before serving; nil in tests that do
	// not start it, and then the alert endpoints answer 503.
	alerts *alerts.Alerts
	// ui serves the web UI's pages and embedded assets (server/ui.go).
	ui *uiHandler
	// leases share stack actions and alert deliveries between replicas
	// (set by run with --store nats://); nil for a single crowsnest.
	leases *lease.Leases
}

// newServer wires the handlers to the domain. The engines and the feed are
// run by the caller.
func newServer(cfg Config, log *slog.Logger, st store.Store, engines *docker.Engines, auth *authenticator) *Server {
	s := &Server{
		cfg:     cfg,
		log:     log,
		store:   st,
		engines: engines,
		feed:    feed.New(log),
		auth:    auth,
		limits:  newLimiter(cfg.MaxStreams, cfg.RequestRate, cfg.RequestBurst, cfg.TrustedProxies),
	}
	s.limits.identify = auth.identity // limits run before auth: count verified credentials, not claims
	s.metrics = newMetrics(s)
	s.streams = s.newStreams()
	s.containerLogs = logs.NewStreams(logs.Options{Logger: log})
	s.metrics.registry.MustRegister(s.containerLogMetrics())
	s.ui = newUIHandler(log)
	return s
}

// handler is the whole HTTP surface: the route table behind the Host
// allowlist and cross-origin protection (protect.go), the per-client limits,
// the auth check each route asks for and its content-type rule.
func (s *Server) handler() (http.Handler, error) {
	cop, err := newCrossOrigin(s.cfg, s.log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		// The content type is checked after auth: a caller without a
		// credential gets 401 whatever it sends.
		h := requireContentType(rt.Accepts, rt.handler)
		if rt.origin() == originSocket {
			h = s.socketOrigin(h)
		}
		h = s.authorize(rt.Scope, h.ServeHTTP)
		h = s.limits.wrap(rt.Stream, h)
		// Outside the limiter: a Hyper signature's body is read there.
		if rt.Stream {
			h = withBodyDeadline(h)
		} else {
			h = withDeadlines(h)
		}
		mux.Handle(rt.Method+" "+rt.Path, s.metrics.instrument(rt.Path, h))
	}
	// The UI is the fallback for GET: it answers its pages and assets and
	// gives any other path the API's JSON 404. Registered as "GET /", it never
	// shadows a route of the table, and a wrong method on an API path still
	// gets the mux's 405. Its pages are public: they hold no data.
	ui := s.metrics.instrument("ui", withDeadlines(s.ui))
	mux.Handle("GET /", ui)
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A UI page whose path is also a socket (GET /stacks): a browser
		// navigating gets the page, a websocket upgrade gets the socket.
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && isUIPage(r.URL.Path) && !stream.IsUpgrade(r) {
			ui.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return newHostGuard(s.cfg, s.log).wrap(cop.Handler(routed)), nil
}

// newStreams is what the server's sockets and SSE stream share.
func (s *Server) newStreams() *stream.Server {
	return &stream.Server{
		Log:            s.log,
		AllowedOrigins: s.cfg.AllowedOrigins,
		Clients:        s.metrics.clients,
		Dropped:        s.metrics.dropped,
	}
}
