package main

import (
	"net/http"
	"strconv"

	"github.com/felixge/httpsnoop"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is what /metrics exposes. It has its own registry so that tests can
// build many servers in one process.
type metrics struct {
	registry  *prometheus.Registry
	eventsIn  *prometheus.CounterVec
	eventsOut *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	clients   *prometheus.GaugeVec
	requests  *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowsnest_events_in_total", Help: "Events stored, by source (engine or api).",
		}, []string{"source"}),
		eventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowsnest_events_out_total", Help: "Events sent to stream clients, by endpoint.",
		}, []string{"endpoint"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowsnest_clients_dropped_total", Help: "Stream clients closed because they read too slowly, by endpoint.",
		}, []string{"endpoint"}),
		clients: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "crowsnest_stream_clients", Help: "Connected stream clients, by endpoint.",
		}, []string{"endpoint"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowsnest_http_requests_total", Help: "HTTP requests, by route and status code.",
		}, []string{"route", "code"}),
	}
	m.registry.MustRegister(m.eventsIn, m.eventsOut, m.dropped, m.clients, m.requests,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crowsnest_engines_up", Help: "Docker engines currently connected.",
		}, func() float64 { return float64(s.engines.Up()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crowsnest_engines", Help: "Docker engines configured.",
		}, func() float64 { return float64(len(s.engines.Hosts())) }),
	)
	return m
}

// instrument counts requests per route pattern (never per raw path, which
// would let clients grow the label set without bound).
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		w = httpsnoop.Wrap(w, httpsnoop.Hooks{
			WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
				return func(c int) {
					code = c
					next(c)
				}
			},
		})
		h.ServeHTTP(w, r)
		m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	})
}

// handleMetrics serves the Prometheus text format.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}
