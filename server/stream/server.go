package stream

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Server holds what every stream shares: the log, who may open a socket
// from another origin, and the metrics. Socket and SSE serve one stream
// with it.
type Server struct {
	Log *slog.Logger
	// AllowedOrigins are the --allowed-origin patterns a socket's Origin
	// may match besides the request's own host.
	AllowedOrigins []string
	Clients        *prometheus.GaugeVec   // connected clients, by endpoint
	Dropped        *prometheus.CounterVec // clients closed as too slow, by endpoint
}

// connected counts a client of endpoint until the returned function runs.
func (s *Server) connected(endpoint string) (gone func()) {
	g := s.Clients.WithLabelValues(endpoint)
	g.Inc()
	return g.Dec
}

// tooSlow is the reason given to a client dropped as too slow.
func (s *Server) tooSlow(endpoint, hint string) string {
	s.Dropped.WithLabelValues(endpoint).Inc()
	return "too slow: queue overflowed" + hint
}
