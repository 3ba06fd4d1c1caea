package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// errNotTracked answers the container routes of a server without a
// stats collector.
var errNotTracked = unavailable(errors.New("containers are not being tracked"))

// containersStatsWait bounds how long listing containers waits for the
// first samples of containers nobody watched yet: about one engine stats
// frame, so a cold list still carries figures.
const containersStatsWait = 2500 * time.Millisecond

// handleContainers lists the containers of every engine with their latest
// stats: running ones, or all with ?all=1.
func (s *Server) handleContainers(w http.ResponseWriter, r *http.Request) {
	if s.stats == nil {
		s.fail(w, r, "listing containers", errNotTracked)
		return
	}
	all := false
	switch v := r.URL.Query().Get("all"); v {
	case "", "0", "false":
	case "1", "true":
		all = true
	default:
		respond.Error(w, http.StatusBadRequest, "all: want 1, true, 0 or false")
		return
	}
	list := s.stats.Containers(r.Context(), all, containersStatsWait)
	if list == nil {
		respond.JSON(w, http.StatusOK, []struct{}{}) // [] rather than null
		return
	}
	respond.JSON(w, http.StatusOK, list)
}

// handleContainer answers the inspect summary of one container, named by
// ID, ID prefix or name, on ?host= or the engine that has it.
func (s *Server) handleContainer(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.resolveContainer(w, r); ok {
		respond.JSON(w, http.StatusOK, d)
	}
}

// resolveContainer inspects the container the request names by {id} (ID,
// ID prefix or name) on ?host= or the engine that has it. When it cannot,
// it has answered the request itself (503, 404 or 500) and reports false.
func (s *Server) resolveContainer(w http.ResponseWriter, r *http.Request) (wire.ContainerDetail, bool) {
	if s.stats == nil {
		s.fail(w, r, "inspecting a container", errNotTracked)
		return wire.ContainerDetail{}, false
	}
	host := r.URL.Query().Get("host")
	if host != "" {
		if _, err := s.engines.Client(host); err != nil {
			s.fail(w, r, "inspecting a container", err)
			return wire.ContainerDetail{}, false
		}
	}
	d, err := s.stats.Inspect(r.Context(), host, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, "inspecting a container", err)
		return wire.ContainerDetail{}, false
	}
	return d, true
}

// containerActionTimeout bounds one start, stop or restart: stop waits the
// container's stop timeout (10 s by default, configurable per container)
// before the engine kills it, so this leaves room for long graceful stops
// without letting a hung engine hold the request for ever.
const containerActionTimeout = 2 * time.Minute

// containerActions are the lifecycle actions of
// POST /api/v1/containers/{id}/{action}, each one engine call. Stop and
// restart use the container's own stop signal and timeout, as docker stop
// does without flags (on Podman too: see docker.Engines.DockerAPI).
var containerActions = map[string]func(ctx context.Context, cli client.APIClient, id string) error{
	"start": func(ctx context.Context, cli client.APIClient, id string) error {
		_, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
		return err
	},
	"stop": func(ctx context.Context, cli client.APIClient, id string) error {
		_, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{})
		return err
	},
	"restart": func(ctx context.Context, cli client.APIClient, id string) error {
		_, err := cli.ContainerRestart(ctx, id, client.ContainerRestartOptions{})
		return err
	},
}

// handleContainerAction starts, stops or restarts one container, named as
// for inspect (ID, ID prefix or name, on ?host= or the engine that has it),
// and answers 204 once the engine has done it, so a client that sees the
// answer sees the new state. Starting a running container or stopping a
// stopped one is not an error (the engine answers 304, as docker does).
func (s *Server) handleContainerAction(w http.ResponseWriter, r *http.Request) {
	act, ok := containerActions[r.PathValue("action")]
	if !ok {
		err := errors.New("unknown container action " + r.PathValue("action") + ": want start, stop or restart")
		s.fail(w, r, "container action", notFound(err))
		return
	}
	// Resolve the reference to a full ID on one engine first: a name or a
	// prefix could otherwise mean different containers on different
	// engines, and the action must hit exactly the one inspect shows.
	d, ok := s.resolveContainer(w, r)
	if !ok {
		return
	}
	cli, err := s.engines.DockerAPI(d.Host)
	if err != nil {
		s.fail(w, r, "container "+r.PathValue("action"), err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), containerActionTimeout)
	defer cancel()
	if err := act(ctx, cli, d.ID); err != nil {
		// The engine's own words (a start whose command cannot run, a
		// conflict), so the caller can act on them; 404 when the
		// container was removed between inspect and action.
		s.fail(w, r, "container "+r.PathValue("action"), err)
		return
	}
	s.log.Info("container action", "action", r.PathValue("action"), "host", d.Host, "container", d.Name, "id", d.ID)
	w.WriteHeader(http.StatusNoContent)
}
