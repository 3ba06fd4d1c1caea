package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// podmanComponent is the component Podman's /version lists itself as; no
// other field tells its Docker-compatible API apart from Docker's.
const podmanComponent = "Podman Engine"

// engineKind tells Docker and Podman apart from an engine's /version.
func engineKind(v client.ServerVersionResult) string {
	for _, c := range v.Components {
		if c.Name == podmanComponent {
			return wire.EnginePodman
		}
	}
	return wire.EngineDocker
}

// podmanDifferences are what a Podman engine (tested: 4.3) does otherwise
// than Docker, in the words GET /api/v1/hosts shows them.
var podmanDifferences = []wire.FeatureNote{
	{Feature: wire.FeatureEvents, Reason: "Podman names some container actions its own way: crowsnest records remove as destroy and exec_died as exec_die, and keeps Podman's own (init, cleanup, exec…) as they come. Podman files images it loaded or built locally as localhost/NAME, and events name them so; an image filter naming NAME matches them. Podman records no kill for the signal of a stop, and a stop only when the container outlives that signal: a die after a stop cannot always be told from a crash (alert rules count it as one)."},
	{Feature: wire.FeatureHealth, Reason: "Podman's health_status events do not say the status: crowsnest reads it from the container's health log when no newer check ran, else records a bare health_status. Podman runs health checks from systemd timers, so they run by themselves only where systemd runs."},
	{Feature: wire.FeatureLogs, Reason: "Podman's log API stamps lines to the second, not the nanosecond."},
	{Feature: wire.FeatureStats, Reason: "Podman's stats API sends a frame every 5 s and no page cache figures: where crowsnest cannot read a container's cgroup files (Podman on another machine), figures refresh every 5 s and memory includes the page cache. Its system CPU figure counts only the host's busy time, so crowsnest computes CPU as the container's CPU time over the wall clock instead of Docker's formula."},
}

// podmanUnavailable lists what a Podman engine cannot offer, from its
// /info and the events logger its own /libpod/info names.
func podmanUnavailable(info client.SystemInfoResult, eventsLogger string) []wire.FeatureNote {
	var out []wire.FeatureNote
	if eventsLogger == "none" {
		out = append(out, wire.FeatureNote{Feature: wire.FeatureEvents,
			Reason: `Podman's events_logger is "none": it records no events, so there are none to show, store or resume.`})
	}
	if info.Info.CgroupVersion == "1" && slices.Contains(info.Info.SecurityOptions, "name=rootless") {
		out = append(out, wire.FeatureNote{Feature: wire.FeatureStats,
			Reason: "rootless Podman on cgroup v1 has no container stats: its API refuses them, and its containers' cgroup files are not delegated to read."})
	}
	return out
}

// podmanActions are Podman's names of container actions Docker names
// otherwise; crowsnest records Docker's, which its filters, reconciliation
// and pages know.
var podmanActions = map[string]string{
	"remove":    "destroy",
	"exec_died": "exec_die",
}

// podmanEvent turns a Podman container event into Docker's form: Docker's
// action names, and without the attributes Podman adds to every event
// (containerExitCode, "0" except on die, where exitCode says the same;
// podId, empty outside a pod).
func podmanEvent(ev *wire.ContainerEvent) {
	if a, ok := podmanActions[ev.Action]; ok {
		ev.Action, ev.Status = a, a
	}
	delete(ev.Actor.Attributes, "containerExitCode")
	if ev.Actor.Attributes["podId"] == "" {
		delete(ev.Actor.Attributes, "podId")
	}
}

// readPodmanLog reads the container events Podman's event log holds from
// timeNano from on: the log is a file or the journal, not a 256-event
// memory, so reading it from the epoch would read the engine's whole
// history. It asks for the log as it stands (stream=false), which the moby
// client cannot: Podman ends an "until" request when its own clock passes
// until, and one already past comes back cut short or empty.
func (e *engine) readPodmanLog(ctx context.Context, from int64) (ring, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	filters, err := json.Marshal(map[string][]string{"type": {string(events.ContainerEventType)}})
	if err != nil {
		return ring{}, fmt.Errorf("encoding the event filter: %w", err)
	}
	q := url.Values{"since": {sinceParam(from)}, "stream": {"false"}, "filters": {string(filters)}}
	body, err := rawGet(ctx, e.cli, "/v"+e.cli.ClientVersion()+"/events", q)
	if err != nil {
		return ring{}, fmt.Errorf("reading the engine's event log: %w", err)
	}
	defer func() { _ = body.Close() }() // read to the end below
	var r ring
	dec := json.NewDecoder(body)
	for {
		var m events.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return r, nil
		} else if err != nil {
			return r, fmt.Errorf("reading the engine's event log: %w", err)
		}
		ev := e.convert(m)
		if r.size == 0 || ev.TimeNano < r.oldest {
			r.oldest = ev.TimeNano
		}
		r.size++
		r.events = append(r.events, ev)
	}
}

// podmanEventsLogger asks Podman's own API, which Podman 4 and later serve
// under any version from 4.0.0, which events logger it uses (file,
// journald or none). Other engines answer it with an error.
func (e *engine) podmanEventsLogger(ctx context.Context) (string, error) {
	body, err := rawGet(ctx, e.cli, "/v4.0.0/libpod/info", nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = body.Close() }() // decoded below
	var info struct {
		Host struct {
			EventLogger string `json:"eventLogger"`
		} `json:"host"`
	}
	if err := json.NewDecoder(body).Decode(&info); err != nil {
		return "", fmt.Errorf("decoding Podman's info: %w", err)
	}
	return info.Host.EventLogger, nil
}

// rawGet makes a GET the moby client has no method for, over a fresh
// connection of the client's own dialer (unix, tcp with TLS, or ssh alike),
// and returns the body of a 200 answer.
func rawGet(ctx context.Context, cli *client.Client, path string, query url.Values) (io.ReadCloser, error) {
	dial := cli.Dialer()
	hc := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		DisableKeepAlives: true, // each ssh connection is a process: leave none idle
	}}
	u := url.URL{Scheme: "http", Host: "engine", Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer func() { _ = resp.Body.Close() }() // only the message is wanted
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp.Body, nil
}

// healthRetries bound how long completeHealth waits for Podman to record
// the check an event is about: it sends the event before it writes the
// check's result to the container's health log.
const (
	healthRetries    = 10
	healthRetryPause = 200 * time.Millisecond
)

// completeHealth gives Podman's health_status events the status Docker
// puts in the action ("health_status: healthy"), read from the container's
// health log: Podman sends the event while its check ends, so the status
// after that check is the container's current one as long as no newer
// check started. When one did, or the container is gone, the event stays a
// bare health_status rather than claim a status it may not have had.
func (e *engine) completeHealth(ctx context.Context, batch []wire.ContainerEvent) {
	for i, ev := range batch {
		if ev.Action != "health_status" {
			continue
		}
		if status := e.healthOf(ctx, ev.Actor.ID, time.Unix(0, ev.TimeNano)); status != "" {
			batch[i].Action = "health_status: " + status
			batch[i].Status = batch[i].Action
		}
	}
}

// healthOf is container id's health status after the check running at
// time at, "" when it cannot be known.
func (e *engine) healthOf(ctx context.Context, id string, at time.Time) string {
	for range healthRetries {
		ictx, cancel := context.WithTimeout(ctx, connectTimeout)
		res, err := e.cli.ContainerInspect(ictx, id, client.ContainerInspectOptions{})
		cancel()
		if err != nil || res.Container.State == nil {
			e.log.Debug("health status not readable", "container", id, "err", err)
			return ""
		}
		status, recorded := healthAt(res.Container.State.Health, at)
		if recorded {
			return status
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(healthRetryPause):
		}
	}
	return ""
}

// healthAt is the health status h reports for the check running at time
// at: its current status when that check is its newest, "" when a newer
// one started. recorded is false while h holds no check that ended at or
// after at: Podman has not written it yet.
func healthAt(h *container.Health, at time.Time) (status string, recorded bool) {
	if h == nil || len(h.Log) == 0 || h.Log[len(h.Log)-1] == nil {
		return "", false
	}
	newest := h.Log[len(h.Log)-1]
	switch {
	case newest.Start.After(at):
		return "", true
	case newest.End.Before(at):
		return "", false
	}
	return string(h.Status), true
}
