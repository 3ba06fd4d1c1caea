package api

import (
	"net/http"

	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// Route is one entry of the route table: the single place that says what
// crowsnest serves and who may use it. What the /api reference says of it
// is its Doc.
type Route struct {
	Method string
	Path   string
	Scope  auth.Scope
	Stream bool // a long-lived socket or SSE stream, counted against --max-streams
	// Accepts lists the media types of the request body of a route that
	// changes something with one (415 for anything else, see
	// auth.RequireContentType); nil for routes that read no body, or whose body
	// changes nothing.
	Accepts []string
	handler http.HandlerFunc
}

// Key is the route's method and path, as routeDocs and http.ServeMux
// patterns write it: "GET /api/v1/events".
func (rt Route) Key() string { return rt.Method + " " + rt.Path }

// Doc is the route's entry in the /api reference (routeDocs).
func (rt Route) Doc() RouteDoc { return routeDocs[rt.Key()] }

// OriginRule is who may call a route from a browser page of another origin.
type OriginRule int

// The origin rules, from what the protections of server/auth apply.
const (
	// OriginAny: a safe method; another page may send it, but cannot read
	// the answer (no CORS headers) and gets no cookie (SameSite=Strict).
	OriginAny OriginRule = iota
	// OriginSame: a state-changing method, refused with 403 when a browser
	// says another origin sent it (http.CrossOriginProtection).
	OriginSame
	// OriginSocket: a websocket, refused with 403 when its Origin is
	// neither this host nor an --allowed-origin (stream.Socket).
	OriginSocket
)

// String is the rule as SECURITY.md spells it.
func (o OriginRule) String() string {
	return [...]string{"any", "same", "same (websocket)"}[o]
}

// Origin is the route's OriginRule. It follows from the method and the
// kind of route rather than being written per route, because that is how
// the protections apply: CrossOriginProtection to every method but GET,
// HEAD and OPTIONS, the websocket Origin check to every upgrade.
func (rt Route) Origin() OriginRule {
	switch {
	case rt.Method != http.MethodGet && rt.Method != http.MethodHead && rt.Method != http.MethodOptions:
		return OriginSame
	case rt.Stream && rt.Path != "/api/v1/events/stream":
		return OriginSocket
	}
	return OriginAny
}

// Routes is the route table, for checks that must follow it (SECURITY.md,
// and the matrix tests that send every route every credential).
func Routes() []Route {
	return (&Server{}).routes()
}

// Media types the mutating routes accept (Route.Accepts).
var (
	acceptJSON     = []string{"application/json"}
	acceptJSONYAML = append([]string{"application/json"}, yamlMediaTypes...)
	acceptForm     = []string{"application/x-www-form-urlencoded"}
)

// How a route answers (Route.Stream).
const (
	once    = false // one answer
	streams = true  // a long-lived socket or SSE stream
)

// routes binds the route table to s's handlers: one line per route, with
// its method, path, who may call it, whether it streams, the body types it
// accepts and its handler. What it does, its parameters and an example are
// its entry in routeDocs.
func (s *Server) routes() []Route {
	return []Route{
		{"GET", "/healthz", auth.ScopePublic, once, nil, s.handleHealth},
		{"GET", "/metrics", auth.ScopeRead, once, nil, s.handleMetrics},
		{"GET", "/events/ws", auth.ScopeRead, streams, nil, s.handleEventsWS},
		{"GET", "/docker/stats", auth.ScopeRead, streams, nil, s.handleStatsWS},
		{"GET", "/api/v1/containers", auth.ScopeRead, once, nil, s.handleContainers},
		{"GET", "/api/v1/containers/{id}", auth.ScopeRead, once, nil, s.handleContainer},
		{"POST", "/api/v1/containers/{id}/{action}", auth.ScopeAdmin, once, nil, s.handleContainerAction},
		{"GET", "/api/v1/session", auth.ScopePublic, once, nil, s.handleSession},
		{"GET", "/api/v1/containers/{id}/stats", auth.ScopeRead, once, nil, s.handleContainerHistory},
		{"GET", "/api/v1/hosts/{name}/stats", auth.ScopeRead, once, nil, s.handleHostHistory},
		{"GET", "/api/v1/stats/top", auth.ScopeRead, once, nil, s.handleStatsTop},
		{"GET", "/api/v1/hosts", auth.ScopeRead, once, nil, s.handleHosts},
		{"GET", "/api/v1/events", auth.ScopeRead, once, nil, s.handleListEvents},
		{"POST", "/api/v1/events", auth.ScopeAdmin, once, acceptJSONYAML, s.handleCreateEvent},
		{"GET", "/api/v1/events/stream", auth.ScopeRead, streams, nil, s.handleEventStream},
		{"GET", "/api", auth.ScopePublic, once, nil, s.handleAPIPage},
		{"GET", "/login", auth.ScopePublic, once, nil, s.handleLoginPage},
		{"POST", "/login", auth.ScopePublic, once, acceptForm, s.handleLogin},
		{"POST", "/logout", auth.ScopePublic, once, acceptForm, s.handleLogout},
		{"GET", "/stacks", auth.ScopeRead, streams, nil, s.handleStacksWS},
		{"GET", "/api/v1/stacks", auth.ScopeRead, once, nil, s.handleListStacks},
		{"POST", "/api/v1/stacks", auth.ScopeAdmin, once, acceptJSON, s.handleCreateStack},
		{"GET", "/api/v1/stacks/{id}", auth.ScopeRead, once, nil, s.handleGetStack},
		{"PUT", "/api/v1/stacks/{id}", auth.ScopeAdmin, once, acceptJSON, s.handleReplaceStack},
		{"DELETE", "/api/v1/stacks/{id}", auth.ScopeAdmin, once, nil, s.handleDeleteStack},
		{"POST", "/api/v1/stacks/{id}/{action}", auth.ScopeAdmin, once, nil, s.handleStackAction},
		{"GET", "/api/v1/alerts", auth.ScopeRead, once, nil, s.handleListAlerts},
		{"GET", "/api/v1/alerts/presets", auth.ScopeRead, once, nil, s.handleAlertPresets},
		{"POST", "/api/v1/alerts", auth.ScopeAdmin, once, acceptJSON, s.handleCreateAlert},
		{"GET", "/api/v1/alerts/{id}", auth.ScopeRead, once, nil, s.handleGetAlert},
		{"PUT", "/api/v1/alerts/{id}", auth.ScopeAdmin, once, acceptJSON, s.handleReplaceAlert},
		{"DELETE", "/api/v1/alerts/{id}", auth.ScopeAdmin, once, nil, s.handleDeleteAlert},
		{"POST", "/api/v1/alerts/{id}/test", auth.ScopeAdmin, once, nil, s.handleTestAlert},
		{"GET", "/logs/ws", auth.ScopeRead, streams, nil, s.handleLogsWS},
		{"GET", "/api/v1/containers/{id}/logs/ws", auth.ScopeRead, streams, nil, s.handleContainerLogsWS},
		{"GET", "/api/v1/containers/{id}/exec/ws", auth.ScopeAdmin, streams, nil, s.handleExecWS},
	}
}
