package api

import (
	"net/http"
	"strconv"

	"github.com/felixge/httpsnoop"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
)

// Metrics is what /metrics exposes: the API's own figures and those the
// caller's parts register. It has its own registry so that tests can build
// many servers in one process.
type Metrics struct {
	registry  *prometheus.Registry
	eventsIn  *prometheus.CounterVec
	eventsOut *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	clients   *prometheus.GaugeVec
	requests  *prometheus.CounterVec
	// statsSamples counts the frames written to /docker/stats clients.
	statsSamples prometheus.Counter
	// loginFailures counts refused POST /login attempts, by reason.
	loginFailures *prometheus.CounterVec
}

// NewMetrics builds the registry with the API's figures and the Go
// runtime's and process's.
func NewMetrics() *Metrics {
	m := &Metrics{
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
		statsSamples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crowsnest_stats_samples_sent_total", Help: "Stats frames written to /docker/stats clients.",
		}),
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowsnest_login_failures_total", Help: "Refused logins, by reason (wrong-token, or throttled: tried during the backoff after earlier failures).",
		}, []string{"reason"}),
	}
	m.registry.MustRegister(m.eventsIn, m.eventsOut, m.dropped, m.clients, m.requests, m.statsSamples, m.loginFailures,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Register adds collectors of the caller's parts to /metrics; it panics
// on a name registered twice, a programming error.
func (m *Metrics) Register(cs ...prometheus.Collector) {
	m.registry.MustRegister(cs...)
}

// EngineEventsStored counts n engine events stored, as source "engine" of
// crowsnest_events_in_total (the API counts its own as "api").
func (m *Metrics) EngineEventsStored(n int) {
	m.eventsIn.WithLabelValues("engine").Add(float64(n))
}

// registerEngines adds the figures of the engines.
func (m *Metrics) registerEngines(e *docker.Engines) {
	m.Register(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crowsnest_engines_up", Help: "Docker engines currently connected.",
		}, func() float64 { return float64(e.Up()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crowsnest_engines", Help: "Docker engines configured.",
		}, func() float64 { return float64(len(e.Hosts())) }),
	)
}

// instrument counts requests per route pattern (never per raw path, which
// would let clients grow the label set without bound).
func (m *Metrics) instrument(route string, h http.Handler) http.Handler {
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
