package main

import "net/http"

// scope is what a caller must hold to use a route.
type scope int

const (
	scopePublic scope = iota // anyone, even with auth configured
	scopeRead                // a read or admin credential
	scopeAdmin               // an admin credential
)

func (s scope) String() string {
	return [...]string{"public", "read", "admin"}[s]
}

// route is one entry of the route table: the single place that says what
// crowsnest serves, who may use it, and (for the /api reference) what it does.
type route struct {
	Method  string
	Path    string
	Scope   scope
	Stream  bool // a long-lived socket or SSE stream, counted against --max-streams
	Summary string
	Params  string
	handler http.HandlerFunc
}

// routes lists every endpoint.
func (s *Server) routes() []route {
	return []route{
		{Method: "GET", Path: "/healthz", Scope: scopePublic, Summary: "liveness: 200 while the server runs", handler: s.handleHealth},
		{Method: "GET", Path: "/metrics", Scope: scopeRead, Summary: "Prometheus metrics", handler: s.handleMetrics},
		{Method: "GET", Path: "/events/ws", Scope: scopeRead, Stream: true, Summary: "container events (Hyper.sh Monitor events), replay then live", Params: "filters, since, until", handler: s.handleEventsWS},
		{Method: "GET", Path: "/api/v1/hosts", Scope: scopeRead, Summary: "configured engines and their state", handler: s.handleHosts},
		{Method: "GET", Path: "/api/v1/events", Scope: scopeRead, Summary: "stored events, newest first (Vamp list), with X-Total-Count and Link (first, prev, next, last); with aggregator, one {type, field, value} instead, e.g. {\"type\":\"average\",\"field\":\"cpu\",\"value\":12.5}; YAML when Accept starts with application/x-yaml", Params: "tag (repeatable, all required), type, page (default 1; below 1 means 1), per_page (default 30, at most 1000: larger is clamped), lt, lte, gt, gte (RFC 3339 or Unix seconds), aggregator (count, average, min, max) and field (a numeric key of value); or the same as a Vamp JSON/YAML body {tags, type, timestamp: {lt, lte, gt, gte}, aggregator: {type, field}}: tags of query and body are all required, any other field in both must agree (else 400)", handler: s.handleListEvents},
		{Method: "POST", Path: "/api/v1/events", Scope: scopeAdmin, Summary: "store an event or a list of events (Vamp create, all or nothing), JSON or YAML by Content-Type, at most 1 MiB; 201 with what was stored", Params: "body {tags, type, value, timestamp} or a list of them", handler: s.handleCreateEvent},
		{Method: "GET", Path: "/api/v1/events/stream", Scope: scopeRead, Stream: true, Summary: "server-sent events of stored events (Vamp stream)", Params: "tag (repeatable, all required), type, Last-Event-ID header or last_event_id (replay after that id, then live)", handler: s.handleEventStream},
	}
}
