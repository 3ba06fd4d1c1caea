package api

import "github.com/crowsnest-hq/crowsnest/server/auth"

// RouteDoc is what the /api reference says of a route.
type RouteDoc struct {
	Summary string // what the route does
	Params  string // its parameters
	// Example is one command that uses the route. {base} stands for the
	// server's http(s) URL and {ws} for its ws(s) URL; the page inserts
	// the Authorization header for routes that need a credential when
	// auth is configured. Empty: the page derives one from the method and
	// path (see routeExample).
	Example string
}

// routeDocs documents every route of the table (routes), keyed by
// Route.Key; a test checks that none is missing and none is left over.
var routeDocs = map[string]RouteDoc{
	"GET /healthz": {
		Summary: "health: 200 while crowsnest can store events, 503 with the reason when its " +
			"event store cannot (engines being down is not unhealthy)",
		Example: "curl -i {base}/healthz",
	},
	"GET /metrics": {
		Summary: "Prometheus metrics",
		Example: "curl {base}/metrics",
	},
	"GET /events/ws": {
		Summary: "container events (Hyper.sh Monitor events), replay then live; each message also " +
			"carries storeId, its position in crowsnest's store (Hyper clients ignore it), " +
			"and reconciled changes carry the attributes crowsnest.reconciled and " +
			"crowsnest.gap (the start of the gap they close); a slow client is closed with " +
			"1013 and a reason giving after= and since= to resume from",
		Params: "filters, since, until (Unix seconds, RFC 3339 or a duration back from now; " +
			"since compares the engines' own clocks, so across engines whose clocks disagree " +
			"it may repeat or skip events), after (a storeId: resume exactly after it, the " +
			"way to resume without a gap or repeat)",
		Example: "websocat " +
			"'{ws}/events/ws?filters={\"event\":[\"die\"],\"label\":[\"env=prod\"]}&since=1h'",
	},
	"GET /docker/stats": {
		Summary: "DockStat stats socket: {\"message\":\"Connection established\"}, then per running " +
			"container per interval {id, hostId, name, image, status, state, cpuUsage, " +
			"memoryUsage (percent, as docker stats), memoryBytes, memoryLimit, netRx, netTx, " +
			"blockRead, blockWrite, pids, timestamp}; a stopped container gets one last " +
			"frame with its new state and zero usage; an unreachable engine gets {hostId, " +
			"error} each interval",
		Params: "host, container (ID or name prefix), interval (Go duration or seconds, at least " +
			"1s, default 2s)",
	},
	"GET /api/v1/containers": {
		Summary: "containers of every engine with their latest stats sample: running ones, all " +
			"with all=1",
		Params: "all",
	},
	"GET /api/v1/containers/{id}": {
		Summary: "inspect summary of a container (ID, ID prefix or name) with its latest stats; " +
			"404 when no engine has it",
		Params: "host",
	},
	"POST /api/v1/containers/{id}/{action}": {
		Summary: "start, stop or restart a container (ID, ID prefix or name, as for inspect) and " +
			"answer 204 once the engine has done it; stop and restart use the container's " +
			"stop signal and timeout; 404 for an unknown container, host or action; 500 with " +
			"the engine's message when it refuses",
		Params:  "action: start, stop, restart; host (default: the engine that has the container)",
		Example: "curl -i -X POST '{base}/api/v1/containers/web/restart?host=Localhost'",
	},
	"GET /api/v1/session": {
		Summary: "what the caller's credential allows: {auth (whether the server checks " +
			"credentials), scope (admin, read, or empty without a valid credential), exec (whether it may " +
			"open a shell in a container: admin, unless --no-exec)}; an open server answers " +
			"auth false, scope admin",
		Example: "curl -H \"Authorization: Bearer $CROWSNEST_TOKEN\" {base}/api/v1/session",
	},
	"GET /api/v1/containers/{id}/stats": {
		Summary: "a container's stats history {host, id, name, image, from, to, resolution " +
			"(seconds between points), points: [{t, cpu (percent, one core 100), memory " +
			"(percent of the limit), memoryBytes, netRx, netTx, blockRead, blockWrite (bytes " +
			"per second)}]}, sampled every --stats-every whether or not anyone watches, kept " +
			"for --stats-retention, removed containers' too; the resolution grows with the " +
			"range (10 s, 1 min, 10 min by default); a step without a point is a gap " +
			"(crowsnest or the container was not running); 400 for an unknown range, from " +
			"not before to, a start beyond the retention or a name several containers had; " +
			"404 for a container without history",
		Params: "id (ID, ID prefix or name, removed containers' included), range (15m, 1h, 6h, " +
			"24h, 7d, 30d; default 1h) or from and to (RFC 3339 or Unix seconds; to defaults " +
			"to now), host (only that engine's containers)",
		Example: "curl '{base}/api/v1/containers/web/stats?range=6h'",
	},
	"GET /api/v1/hosts/{name}/stats": {
		Summary: "an engine's stats history, shaped as a container's: per step, the sums over its " +
			"containers (cpu may exceed 100 per core; memory is a share of the host's " +
			"memory); 400 for a bad range as for a container; 404 for an engine that is not " +
			"configured",
		Params: "name (the engine's name, e.g. Localhost), range or from and to, as for a " +
			"container",
		Example: "curl '{base}/api/v1/hosts/Localhost/stats?range=24h'",
	},
	"GET /api/v1/stats/top": {
		Summary: "the containers that used the most over a range of the stats history: {from, to, " +
			"cpu, memory}, each a list of {host, id, name, image, cpu, memory, memoryBytes} " +
			"(means over the steps the container ran), cpu ranked by mean CPU and memory by " +
			"mean memory bytes, highest first; every container the engines list is ranked, " +
			"stopped ones included; 400 for a bad range or n",
		Params: "range or from and to, as for a container's history; n (how many of each, " +
			"default 5, at most 50)",
		Example: "curl '{base}/api/v1/stats/top?range=24h&n=5'",
	},
	"GET /api/v1/hosts": {
		Summary: "configured engines and their state: engine (docker or podman), versions, and " +
			"the features unavailable or differing there, each with the reason",
		Example: "curl {base}/api/v1/hosts",
	},
	"GET /api/v1/events": {
		Summary: "stored events, newest first (Vamp list), with X-Total-Count and Link (first, " +
			"prev, next, last); with aggregator, one {type, field, value} instead, e.g. " +
			"{\"type\":\"average\",\"field\":\"cpu\",\"value\":12.5}; YAML when Accept starts with " +
			"application/x-yaml",
		Params: "tag (repeatable, all required), type, page (default 1; below 1 means 1), " +
			"per_page (default 30, at least 1 (else 400), at most 1000: larger is clamped), " +
			"lt, lte, gt, gte (RFC " +
			"3339 or Unix seconds), aggregator (count, average, min, max) and field (a " +
			"numeric key of value); or the same as a Vamp JSON/YAML body {tags, type, " +
			"timestamp: {lt, lte, gt, gte}, aggregator: {type, field}}: tags of query and " +
			"body are all required, any other field in both must agree (else 400)",
		Example: "curl -i '{base}/api/v1/events?tag=deploy&tag=env:prod&page=1&per_page=10'",
	},
	"POST /api/v1/events": {
		Summary: "store an event or a list of events (Vamp create, all or nothing), JSON or YAML " +
			"by Content-Type, at most 1 MiB; 201 with what was stored",
		Params: "body {tags, type, value, timestamp} or a list of them",
		Example: "curl -X POST {base}/api/v1/events -H 'Content-Type: application/json' -d " +
			"'{\"tags\":[\"deploy:web\",\"env:prod\"],\"value\":{\"version\":\"1.4.2\"}}'",
	},
	"GET /api/v1/events/stream": {
		Summary: "server-sent events of stored events (Vamp stream)",
		Params: "tag (repeatable, all required), type, Last-Event-ID header or last_event_id " +
			"(replay after that id, then live)",
		Example: "curl -N '{base}/api/v1/events/stream?tag=deploy'",
	},
	"GET /api": {
		Summary: "this API reference, generated from the route table (HTML, works without " +
			"JavaScript)",
		Example: "curl {base}/api",
	},
	"GET /login": {
		Summary: "the login page of the web UI (HTML form, works without JavaScript)",
		Params:  "next (a local path to go to after logging in; default /)",
		Example: "curl {base}/login",
	},
	"POST /login": {
		Summary: "check a token, open a session (stored server-side, 7 days) and set the HttpOnly " +
			"session cookie " + auth.SessionCookie + " to its random id (SameSite=Strict; Secure over " +
			"TLS), then 303 to next; a wrong token gets the form again with 401 (logged, " +
			"counted in crowsnest_login_failures_total); after 5 wrong tokens from one client " +
			"(or 100 from all clients) each further try waits 1 s, 2 s, 4 s… (at most 5 min, " +
			"1 min for all) and meanwhile gets 429 with Retry-After",
		Params:  "form fields token, next",
		Example: "curl -i -c cookies.txt {base}/login --data-urlencode token=$CROWSNEST_TOKEN",
	},
	"POST /logout": {
		Summary: "end the session (its cookie is worthless from then on) and clear the cookie, " +
			"then 303 to /login",
		Example: "curl -i -b cookies.txt -X POST {base}/logout",
	},
	"GET /stacks": {
		Summary: "DockStat Stack Socket: {\"message\":\"Connection established\"}, then {type, data} " +
			"messages: stack-status {stack_id, status, message} (pending \"Creating stack " +
			"configuration\" as an action starts, deployed \"Stack deployed successfully\", " +
			"running, partial, stopped, created, error as the engine shows), stack-progress " +
			"and stack-error {stack_id, action, message, timestamp} (action deploying, " +
			"starting, stopping, restarting, pulling-images or removing; stack_id 0 for a " +
			"stack without a record), stack-removed {stack_id, message}; the same messages " +
			"are stored as events of type stack (tags stack:NAME, action:ACTION, " +
			"message:TYPE); a slow client is closed with a reason",
		Params:  "stack_id (only that stack's messages)",
		Example: "websocat '{ws}/stacks?stack_id=12'",
	},
	"GET /api/v1/stacks": {
		Summary: "compose stacks [{id, name, host, status, services, action, error, created, " +
			"updated}], status read from the engines now (running, partial, stopped, " +
			"created, pending, error); projects started outside crowsnest (compose labels, " +
			"no record) follow with external: true and id 0, read-only",
	},
	"POST /api/v1/stacks": {
		Summary: "create a stack (not deployed yet): validated by the compose loader, stored with " +
			"its files in DATA/stacks/NAME (compose.yaml, .env) so env_file, .env " +
			"interpolation and relative paths work as with the CLI; 201 with the record; 400 " +
			"with the loader's message and nothing stored; 409 name taken on that host; 413 " +
			"over 1 MiB. Admin only, because a compose file is root on the host: bind mounts " +
			"of host paths, privileged services, host network and devices are all allowed",
		Params: "body {name (compose project name: [a-z0-9][a-z0-9_-]*), compose (YAML text), " +
			"env (optional .env text), host (optional, default Localhost)}",
		Example: "curl -X POST {base}/api/v1/stacks -H 'Content-Type: application/json' -d " +
			"'{\"name\":\"web\",\"compose\":\"services:\\n  web:\\n    image: nginx\\n\"}'",
	},
	"GET /api/v1/stacks/{id}": {
		Summary: "a stack with its compose and env texts (for a read credential the env " +
			"values masked: KEY=***) and per-service state {name, state, health, image, " +
			"containers, running}",
	},
	"PUT /api/v1/stacks/{id}": {
		Summary: "replace a stack's compose and env texts (validated as on create; 400, 413 " +
			"likewise); takes effect at the next deploy; 409 while an action runs",
		Params: "body {compose, env}",
	},
	"DELETE /api/v1/stacks/{id}": {
		Summary: "take a stack down (containers, networks and its named volumes) and delete it, " +
			"in the background: 202, then stack-progress removing and stack-removed on " +
			"/stacks; 409 while an action runs",
	},
	"POST /api/v1/stacks/{id}/{action}": {
		Summary: "run deploy (compose up -d: create or recreate what changed, remove orphans), " +
			"start, stop, restart or pull in the background: 202 with the record (status " +
			"pending), progress on /stacks; 409 while another action runs on that stack",
		Params:  "action: deploy, start, stop, restart, pull",
		Example: "curl -X POST {base}/api/v1/stacks/12/deploy",
	},
	"GET /api/v1/alerts": {
		Summary: "alert rules [{id, name, enabled, kind (event, log or stats), filters (the " +
			"/events/ws filter JSON), when (an expr-lang expression over the kind's facts), " +
			"for, count, within, cooldown (Go durations), notify (Shoutrrr or http(s) " +
			"webhook URLs), created, updated, lastFired (the time of its newest stored firing, " +
			"absent when none)}], by id; a read credential sees each notify URL redacted: its " +
			"scheme, the host where it names a server, *** for everything else (user " +
			"information, tokens in host, path and query). Every firing is " +
			"stored as an event of type alert (tags alert:NAME, container:NAME, host:NAME), " +
			"every delivery's outcome as one of type alert-delivery (tags alert:NAME, " +
			"delivery:ok or delivery:failed)",
		Example: "curl {base}/api/v1/alerts",
	},
	"GET /api/v1/alerts/presets": {
		Summary: "ready-made rules [{id, title, description, rule}] (crash, out of memory, " +
			"restart loop, unhealthy, log line, high CPU, high memory): POST a preset's rule " +
			"with notify targets to use it",
	},
	"POST /api/v1/alerts": {
		Summary: "create an alert rule, evaluated from then on: 201 with the stored rule; 400 " +
			"with the reason and nothing stored for a rule that does not validate (unknown " +
			"field, kind or fact, an expression that is not boolean, a target with an " +
			"unknown scheme, count without within…); 409 name taken; 413 over 1 MiB",
		Params: "body {name, enabled, kind, filters, when, for, count, within, cooldown, notify}",
		Example: "curl -X POST {base}/api/v1/alerts -H 'Content-Type: application/json' -d " +
			"'{\"name\":\"crash\",\"enabled\":true,\"kind\":\"event\",\"filters\":{\"event\":[\"die\"]},\"when\":\"exitCode " +
			"!= 0 && !stopped\",\"cooldown\":\"1m\",\"notify\":[\"ntfy://ntfy.sh/my-topic\"]}'",
	},
	"GET /api/v1/alerts/{id}": {
		Summary: "one alert rule (notify URLs redacted for a read credential, as in the list)",
	},
	"PUT /api/v1/alerts/{id}": {
		Summary: "replace an alert rule (validated as on create; 400, 409, 413 likewise; id, " +
			"created and updated in the body are ignored); its windows and cooldowns start " +
			"afresh",
		Params: "body as for create",
	},
	"DELETE /api/v1/alerts/{id}": {
		Summary: "delete an alert rule: 204; its past firings stay in the store",
	},
	"POST /api/v1/alerts/{id}/test": {
		Summary: "send a test notification (test: true) to each target of a rule at once, one " +
			"attempt each, and answer 200 with each outcome [{rule, target (redacted), ok, " +
			"attempts, error, time}]; nothing is stored",
		Example: "curl -X POST {base}/api/v1/alerts/1/test",
	},
	"GET /logs/ws": {
		Summary: "crowsnest's own log records {level, timestamp, message, file, line} (DockStat " +
			"Logging Socket): greeting, then a backlog of recent records sent oldest to " +
			"newest so the stream reads in time order, then live; a slow client is closed " +
			"with a reason",
		Params: "level (minimum: debug, info, warn, error; default debug), tail (backlog size, " +
			"default 100, at most 1000)",
	},
	"GET /api/v1/containers/{id}/logs/ws": {
		Summary: "a container's output as {stream, timestamp, line[, partial]} (stdout/stderr " +
			"separated; one stream for TTY containers; ANSI kept; lines over 64 KiB split, " +
			"partial marking every piece but the last): greeting, the last tail lines, then " +
			"live from one engine follow shared by all viewers; {\"message\":\"container " +
			"stopped\"} and a normal close when it stops; a viewer a burst leaves a whole " +
			"queue behind on the live lines gets {\"message\", \"skipped\": N, \"since\"} in " +
			"place of the lines it missed and stays connected; 404 for an unknown container or host",
		Params: "id (ID, ID prefix or name), host (default Localhost), tail (default 100, or " +
			"all), since (Unix seconds, RFC 3339 or a duration), timestamps (default true)",
	},
	"GET /api/v1/containers/{id}/exec/ws": {
		Summary: "a terminal in a running container: binary frames are the TTY's bytes both " +
			"ways, a text frame {\"type\":\"resize\",\"cols\":C,\"rows\":R} resizes it, and " +
			"when the process exits {\"type\":\"exit\",\"code\":N} comes before a normal " +
			"close; admin only (the operator role once roles exist); each session is stored " +
			"as two events of type exec (exec:start and exec:end, tagged container:, host: " +
			"and actor:, with who ran what, when, for how long and its exit code), never " +
			"what was typed or printed; a client that reads no output for 10 s is closed and " +
			"its process hung up; --exec-idle-timeout ends an idle session (1001); 403 with " +
			"--no-exec, 404 for an unknown container or host, 409 when it is not running",
		Params: "id (ID, ID prefix or name), host (default Localhost), cmd (default: the " +
			"container's bash, else sh; split at spaces, or repeated for one argument each), " +
			"user, workdir (absolute), cols and rows (the initial size)",
		Example: "websocat --binary '{ws}/api/v1/containers/web/exec/ws?cmd=sh'",
	},
}
