package main

import (
	"log/slog"
	"net/http"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/store"
)

// Server holds what the HTTP handlers share.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	engines *docker.Engines
	feed    *eventFeed
	auth    *authenticator
	limits  *limiter
	metrics *metrics
}

// newServer wires the handlers to the domain. The engines and the feed are
// run by the caller.
func newServer(cfg Config, log *slog.Logger, st store.Store, engines *docker.Engines, auth *authenticator) *Server {
	s := &Server{
		cfg:     cfg,
		log:     log,
		store:   st,
		engines: engines,
		feed:    newEventFeed(log),
		auth:    auth,
		limits:  newLimiter(cfg.MaxStreams, cfg.RequestRate, cfg.RequestBurst, cfg.TrustProxy),
	}
	s.limits.identify = auth.identity // limits run before auth: count verified credentials, not claims
	s.metrics = newMetrics(s)
	return s
}

// handler is the whole HTTP surface: the route table behind the per-client
// limits and the auth check each route asks for.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		h := s.authorize(rt.Scope, rt.handler)
		h = s.limits.wrap(rt.Stream, h)
		mux.Handle(rt.Method+" "+rt.Path, s.metrics.instrument(rt.Path, h))
	}
	return mux
}
