package docker

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// defaultStopTimeout is the grace period, in seconds, Docker gives a
// container that sets none before it kills it.
const defaultStopTimeout = 10

// DockerAPI returns the named engine's client as Docker's API behaves, for
// callers that rely on Docker's defaults (the compose library, container
// actions): on a Podman engine it supplies what Podman's compatible API
// leaves out (see compatClient). On Docker it is the plain client.
func (e *Engines) DockerAPI(name string) (client.APIClient, error) {
	eng, ok := e.byName[name]
	if !ok {
		return nil, fmt.Errorf("docker: %w %q", ErrUnknownHost, name)
	}
	return compatClient{Client: eng.cli, eng: eng}, nil
}

// compatClient is an engine client that, once the engine is known to be
// Podman, adapts the calls where Podman 4.3's Docker-compatible API
// departs from Docker's in ways its callers cannot see.
type compatClient struct {
	*client.Client
	eng *engine
}

// podman reports whether the engine is Podman: as its last handshake
// found, or, before any, as its /version says (a stack action may come
// before the first connection).
func (c compatClient) podman(ctx context.Context) bool {
	if kind := c.eng.host().Engine; kind != "" {
		return kind == wire.EnginePodman
	}
	v, err := c.Client.ServerVersion(ctx, client.ServerVersionOptions{})
	return err == nil && engineKind(v) == wire.EnginePodman
}

// ContainerStop names the container's stop timeout when the caller names
// none. Podman gives a container created through its Docker API without
// one a timeout of 0, and a stop without one then kills the container at
// once, where Docker sends the stop signal and waits 10 s.
func (c compatClient) ContainerStop(ctx context.Context, id string, opts client.ContainerStopOptions) (client.ContainerStopResult, error) {
	if opts.Timeout == nil && c.podman(ctx) {
		t, err := c.stopTimeout(ctx, id)
		if err != nil {
			return client.ContainerStopResult{}, err
		}
		opts.Timeout = &t
	}
	return c.Client.ContainerStop(ctx, id, opts)
}

// ContainerRestart names the stop timeout as ContainerStop does.
func (c compatClient) ContainerRestart(ctx context.Context, id string, opts client.ContainerRestartOptions) (client.ContainerRestartResult, error) {
	if opts.Timeout == nil && c.podman(ctx) {
		t, err := c.stopTimeout(ctx, id)
		if err != nil {
			return client.ContainerRestartResult{}, err
		}
		opts.Timeout = &t
	}
	return c.Client.ContainerRestart(ctx, id, opts)
}

// stopTimeout is the container's stop timeout as Docker would apply it. A
// 0 is what Podman records when none was given, so it counts as none: a
// container really meant to be killed at once is given Docker's grace.
func (c compatClient) stopTimeout(ctx context.Context, id string) (int, error) {
	res, err := c.Client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return 0, err
	}
	if cfg := res.Container.Config; cfg != nil && cfg.StopTimeout != nil && *cfg.StopTimeout > 0 {
		return *cfg.StopTimeout, nil
	}
	return defaultStopTimeout, nil
}

// ContainerList puts each network's ID where Podman lists its name in a
// container's network settings. The compose library compares those with
// the IDs of the networks a stack declares, and would otherwise recreate
// every running container of a Podman stack on each deploy.
func (c compatClient) ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error) {
	res, err := c.Client.ContainerList(ctx, opts)
	if err != nil || !c.podman(ctx) {
		return res, err
	}
	nets, err := c.Client.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return res, fmt.Errorf("listing networks for their IDs: %w", err)
	}
	ids := make(map[string]string, len(nets.Items))
	for _, n := range nets.Items {
		ids[n.Name] = n.ID
	}
	for _, ctr := range res.Items {
		if ctr.NetworkSettings == nil {
			continue
		}
		for name, ep := range ctr.NetworkSettings.Networks {
			if ep != nil && ep.NetworkID == name && ids[name] != "" {
				ep.NetworkID = ids[name]
			}
		}
	}
	return res, nil
}
