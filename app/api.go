package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// The typed API client: every server path the UI uses is written here and
// only here, so a page names what it wants (the hosts, a stack, the logs
// socket of a container) and never a URL. client_rest.go carries the
// requests; the sockets and streams are opened by client_ws.go and
// client_sse.go with the targets below.

// Paths of the REST resources the editors send to (sendEditor).
const (
	apiAlertsPath = "/api/v1/alerts"
	apiStacksPath = "/api/v1/stacks"
)

// apiAlertPath is one alert rule.
func apiAlertPath(id int64) string { return apiAlertsPath + "/" + strconv.FormatInt(id, 10) }

// apiStackPath is one stack.
func apiStackPath(id int64) string { return apiStacksPath + "/" + strconv.FormatInt(id, 10) }

// apiStackActionPath is a stack action (deploy, stop…).
func apiStackActionPath(id int64, action string) string { return apiStackPath(id) + "/" + action }

// apiReferencePath is the API's reference page, linked from the nav bar.
const apiReferencePath = "/api"

// loginPath is the sign-in page, returning to the page the user is on.
func loginPath(next string) string { return "/login?next=" + url.QueryEscape(next) }

// apiHealth reads /healthz.
func apiHealth(ctx context.Context) (wire.Health, error) {
	var h wire.Health
	_, err := getJSON(ctx, "/healthz", &h)
	return h, err
}

// apiHosts lists the engines (pages read them through sharedHosts).
func apiHosts(ctx context.Context) ([]wire.Host, error) {
	var hosts []wire.Host
	_, err := getJSON(ctx, "/api/v1/hosts", &hosts)
	return hosts, err
}

// apiSession says what the page's credential may do (pages read it through
// sharedSession).
func apiSession(ctx context.Context) (wire.Session, error) {
	var s wire.Session
	_, err := getJSON(ctx, "/api/v1/session", &s)
	return s, err
}

// apiContainers lists every container of every engine, stopped ones too.
func apiContainers(ctx context.Context) ([]wire.ContainerSummary, error) {
	var list []wire.ContainerSummary
	_, err := getJSON(ctx, "/api/v1/containers?all=1", &list)
	return list, err
}

// containerQuery is the host parameter that picks a container's engine.
func containerQuery(host string) url.Values { return url.Values{"host": {host}} }

// containerPath is a container's resource, with sub ("", "/stats",
// "/logs/ws"…) after its id.
func containerPath(id, sub string, q url.Values) string {
	return "/api/v1/containers/" + url.PathEscape(id) + sub + "?" + q.Encode()
}

// apiContainer inspects one container.
func apiContainer(ctx context.Context, host, id string) (wire.ContainerDetail, error) {
	var d wire.ContainerDetail
	_, err := getJSON(ctx, containerPath(id, "", containerQuery(host)), &d)
	return d, err
}

// apiContainerAction posts start, stop or restart and waits until the
// engine has done it (the server answers 204 then).
func apiContainerAction(ctx context.Context, host, id, action string) error {
	_, err := apiDoWithin(ctx, actionTimeout, http.MethodPost, containerPath(id, "/"+action, containerQuery(host)), nil, nil)
	return err
}

// apiContainerHistory reads a container's stats history over a named range.
func apiContainerHistory(ctx context.Context, host, id, rng string) (wire.StatsHistory, error) {
	q := containerQuery(host)
	q.Set("range", rng)
	var h wire.StatsHistory
	_, err := getJSON(ctx, containerPath(id, "/stats", q), &h)
	return h, err
}

// apiStatsTop ranks the n containers of highest mean CPU and memory over rng.
func apiStatsTop(ctx context.Context, rng string, n int) (wire.StatsTop, error) {
	var top wire.StatsTop
	_, err := getJSON(ctx, "/api/v1/stats/top?"+url.Values{"range": {rng}, "n": {strconv.Itoa(n)}}.Encode(), &top)
	return top, err
}

// apiEvents reads one page of the event store; the headers carry
// X-Total-Count and Link.
func apiEvents(ctx context.Context, q url.Values) ([]wire.Event, http.Header, error) {
	var list []wire.Event
	h, err := getJSON(ctx, "/api/v1/events?"+q.Encode(), &list)
	return list, h, err
}

// apiNewestEvents is the newest n stored events of one type.
func apiNewestEvents(ctx context.Context, typ string, n int) ([]wire.Event, error) {
	list, _, err := apiEvents(ctx, url.Values{"type": {typ}, "per_page": {strconv.Itoa(n)}})
	return list, err
}

// apiPostEvent stores one event and returns it with its id.
func apiPostEvent(ctx context.Context, body any) (wire.Event, error) {
	var stored wire.Event
	_, err := apiDo(ctx, http.MethodPost, "/api/v1/events", body, &stored)
	return stored, err
}

// apiAlerts lists the alert rules, each with its last firing.
func apiAlerts(ctx context.Context) ([]wire.AlertRule, error) {
	var rules []wire.AlertRule
	_, err := getJSON(ctx, apiAlertsPath, &rules)
	return rules, err
}

// apiAlertPresets lists the ready-made rules.
func apiAlertPresets(ctx context.Context) ([]wire.AlertPreset, error) {
	var presets []wire.AlertPreset
	_, err := getJSON(ctx, apiAlertsPath+"/presets", &presets)
	return presets, err
}

// apiTestAlert sends a rule's test notification to each of its targets.
func apiTestAlert(ctx context.Context, id int64) ([]wire.AlertDelivery, error) {
	var out []wire.AlertDelivery
	_, err := apiDo(ctx, http.MethodPost, apiAlertPath(id)+"/test", nil, &out)
	return out, err
}

// apiStacks lists the compose stacks.
func apiStacks(ctx context.Context) ([]wire.Stack, error) {
	var list []wire.Stack
	_, err := getJSON(ctx, apiStacksPath, &list)
	return list, err
}

// apiStack reads one stack with its services.
func apiStack(ctx context.Context, id int64) (wire.Stack, error) {
	var st wire.Stack
	_, err := getJSON(ctx, apiStackPath(id), &st)
	return st, err
}

// Socket and stream targets (path and query) for runWS and runSSE.

// statsSocket is /docker/stats: every running container's samples, or one
// container's with host and container in q.
func statsSocket(q url.Values) string { return withQuery("/docker/stats", q) }

// eventsSocket is the container-event socket.
func eventsSocket(q url.Values) string { return withQuery("/events/ws", q) }

// serverLogsSocket is crowsnest's own log records.
func serverLogsSocket(q url.Values) string { return withQuery("/logs/ws", q) }

// containerLogsSocket is one container's output.
func containerLogsSocket(id string, q url.Values) string { return containerPath(id, "/logs/ws", q) }

// stacksSocket is the stacks' progress socket.
const stacksSocket = "/stacks"

// eventStream is the event store's server-sent event stream.
func eventStream(q url.Values) string { return withQuery("/api/v1/events/stream", q) }

// withQuery is p with q, when q has any value.
func withQuery(p string, q url.Values) string {
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}
