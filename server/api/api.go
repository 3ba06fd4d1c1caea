// Package api is crowsnest's HTTP surface: the route table (routes.go) and
// its reference (route_docs.go), the one error path (fail.go), the
// handlers by resource (<resource>_handlers.go, and the sockets and
// streams in <resource>_ws.go and events_stream.go), the server-rendered
// pages, and what every route shares (deadlines, content negotiation,
// metrics). Who may call a route is decided by server/auth; every socket
// and stream runs on server/stream's loop.
package api

import (
	"log/slog"
	"net/http"

	"github.com/crowsnest-hq/crowsnest/internal/alerts"
	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/feed"
	"github.com/crowsnest-hq/crowsnest/internal/history"
	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/serverlog"
	"github.com/crowsnest-hq/crowsnest/internal/stacks"
	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/server/auth"
	"github.com/crowsnest-hq/crowsnest/server/stream"
	"github.com/crowsnest-hq/crowsnest/server/ui"
)

// Options are the parts the handlers serve and the settings of the HTTP
// surface. The parts are built and run by the caller; the optional ones
// (nil) make their endpoints answer 503.
type Options struct {
	Logger  *slog.Logger
	Store   store.Store
	Engines *docker.Engines
	Feed    *feed.Feed
	// Auth checks credentials; it must be set (auth.New with no
	// credential is an open server).
	Auth *auth.Authenticator
	// Metrics is the /metrics registry the caller's parts report to as
	// well; nil: a registry of the API's own.
	Metrics *Metrics
	// ContainerLogs shares one engine follow per container among viewers
	// (and the caller's log alert rules); nil: one of the API's own.
	ContainerLogs *logs.Streams
	Logs          *serverlog.Ring // the server's own records, for /logs/ws
	Stats         *stats.Collector
	History       *history.Store
	Stacks        *stacks.Manager
	Alerts        *alerts.Alerts

	// StreamQueue is how many messages a stream client may fall behind
	// before it is closed as too slow.
	StreamQueue int
	// AllowedOrigins are the --allowed-origin patterns a socket's Origin
	// may match besides the request's own host.
	AllowedOrigins []string
	Limits         auth.Limits
	Site           auth.Site
	Exec           ExecOptions
}

// Server holds what the HTTP handlers share.
type Server struct {
	log           *slog.Logger
	store         store.Store
	engines       *docker.Engines
	feed          *feed.Feed
	auth          *auth.Authenticator
	limits        *auth.Limiter
	proxies       auth.TrustedProxies
	logins        *auth.LoginThrottle
	site          auth.Site
	streamQueue   int
	metrics       *Metrics
	streams       *stream.Server
	stats         *stats.Collector // nil: the stats and containers endpoints answer 503
	history       *history.Store   // nil: the stats history endpoints answer 503
	logs          *serverlog.Ring  // nil: /logs/ws answers 503
	stacks        *stacks.Manager  // nil: the stack endpoints answer 503
	alerts        *alerts.Alerts   // nil: the alert endpoints answer 503
	containerLogs *logs.Streams
	exec          ExecOptions
	ui            *ui.Handler
}

// New wires the handlers to the parts in o.
func New(o Options) *Server {
	s := &Server{
		log:           o.Logger,
		store:         o.Store,
		engines:       o.Engines,
		feed:          o.Feed,
		auth:          o.Auth,
		limits:        auth.NewLimiter(o.Limits, o.Auth),
		proxies:       auth.TrustedProxies(o.Limits.TrustedProxies),
		logins:        auth.NewLoginThrottle(o.Limits.TrustedProxies),
		site:          o.Site,
		streamQueue:   o.StreamQueue,
		metrics:       o.Metrics,
		stats:         o.Stats,
		history:       o.History,
		logs:          o.Logs,
		stacks:        o.Stacks,
		alerts:        o.Alerts,
		containerLogs: o.ContainerLogs,
		exec:          o.Exec,
		ui:            ui.New(o.Logger),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if s.containerLogs == nil {
		s.containerLogs = logs.NewStreams(logs.Options{Logger: s.log})
	}
	s.metrics.registerEngines(s.engines)
	s.metrics.Register(s.containerLogMetrics())
	s.streams = s.newStreams(o.AllowedOrigins)
	return s
}

// Handler is the whole HTTP surface: the route table behind the Host
// allowlist and cross-origin protection, the per-client limits, the auth
// check each route asks for and its content-type rule.
func (s *Server) Handler() (http.Handler, error) {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		// The content type is checked after auth: a caller without a
		// credential gets 401 whatever it sends.
		h := auth.RequireContentType(rt.Accepts, rt.handler)
		if rt.Origin() == OriginSocket {
			h = s.auth.SocketOrigin(h)
		}
		h = s.auth.Require(rt.Scope, h.ServeHTTP)
		h = s.limits.Wrap(rt.Stream, h)
		// Outside the limiter: a Hyper signature's body is read there.
		if rt.Stream {
			h = withBodyDeadline(h)
		} else {
			h = withDeadlines(h)
		}
		mux.Handle(rt.Key(), s.metrics.instrument(rt.Path, h))
	}
	// The UI is the fallback for GET: it answers its pages and assets and
	// gives any other path the API's JSON 404. Registered as "GET /", it never
	// shadows a route of the table, and a wrong method on an API path still
	// gets the mux's 405. Its pages are public: they hold no data.
	page := s.metrics.instrument("ui", withDeadlines(s.ui))
	mux.Handle("GET /", page)
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A UI page whose path is also a socket (GET /stacks): a browser
		// navigating gets the page, a websocket upgrade gets the socket.
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && ui.IsPage(r.URL.Path) && !stream.IsUpgrade(r) {
			page.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return auth.Protect(s.site, s.log, routed)
}

// newStreams is what the server's sockets and SSE stream share.
func (s *Server) newStreams(allowedOrigins []string) *stream.Server {
	return &stream.Server{
		Log:            s.log,
		AllowedOrigins: allowedOrigins,
		Clients:        s.metrics.clients,
		Dropped:        s.metrics.dropped,
	}
}
