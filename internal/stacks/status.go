package stacks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// engineState is what an engine shows of one compose project.
type engineState struct {
	Status   string
	Services []wire.StackService
}

// listProjectContainers lists the containers of one project (all when
// project is empty) on an engine, one-off `compose run` containers left out
// as `compose ps` does.
func listProjectContainers(ctx context.Context, c client.APIClient, project string) ([]container.Summary, error) {
	label := api.ProjectLabel
	if project != "" {
		label += "=" + project
	}
	res, err := c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", label),
	})
	if err != nil {
		return nil, fmt.Errorf("listing containers of project %q: %w", project, err)
	}
	out := res.Items[:0]
	for _, ctr := range res.Items {
		if strings.EqualFold(ctr.Labels[api.OneoffLabel], "true") {
			continue
		}
		out = append(out, ctr)
	}
	return out, nil
}

// deriveState reads a project's status from its containers: running when
// every service has a running container, stopped when none has, partial in
// between, created when there is no container at all. declared are the
// services of the compose file; services found only on the engine (left
// over from an older file) are listed too but do not count.
func deriveState(declared []string, ctrs []container.Summary) engineState {
	bySvc := make(map[string]*wire.StackService)
	var order []string
	add := func(name string) *wire.StackService {
		if s, ok := bySvc[name]; ok {
			return s
		}
		s := &wire.StackService{Name: name, State: "missing"}
		bySvc[name] = s
		order = append(order, name)
		return s
	}
	for _, n := range declared {
		add(n)
	}
	for _, ctr := range ctrs {
		s := add(ctr.Labels[api.ServiceLabel])
		s.Containers++
		if s.Image == "" {
			s.Image = ctr.Image
		}
		state := string(ctr.State)
		if state == string(container.StateRunning) {
			s.Running++
		}
		// With replicas, show the least healthy container's state.
		if s.State == "missing" || stateRank(state) < stateRank(s.State) {
			s.State = state
		}
		if ctr.Health != nil && ctr.Health.Status != "" && ctr.Health.Status != container.NoHealthcheck {
			h := string(ctr.Health.Status)
			if s.Health == "" || h != string(container.Healthy) {
				s.Health = h
			}
		}
	}
	if len(declared) == 0 { // external: every service found counts
		sort.Strings(order)
		declared = order
	}
	st := engineState{Services: make([]wire.StackService, 0, len(order))}
	for _, n := range order {
		st.Services = append(st.Services, *bySvc[n])
	}
	running := 0
	for _, n := range declared {
		if bySvc[n].Running > 0 {
			running++
		}
	}
	switch {
	case len(ctrs) == 0:
		st.Status = wire.StackCreated
	case running == len(declared):
		st.Status = wire.StackRunning
	case running == 0:
		st.Status = wire.StackStopped
	default:
		st.Status = wire.StackPartial
	}
	return st
}

// stateRank orders container states from least to most healthy.
func stateRank(s string) int {
	switch container.ContainerState(s) {
	case container.StateDead:
		return 0
	case container.StateExited:
		return 1
	case container.StateCreated:
		return 2
	case container.StateRestarting:
		return 3
	case container.StatePaused:
		return 4
	case container.StateRemoving:
		return 5
	case container.StateRunning:
		return 6
	default:
		return -1
	}
}

// statusMessage is the stack-status message for a status read from the
// engine.
func statusMessage(st engineState) string {
	running, total := 0, 0
	for _, s := range st.Services {
		total++
		if s.Running > 0 {
			running++
		}
	}
	switch st.Status {
	case wire.StackRunning:
		return fmt.Sprintf("Stack running: %d of %d services up", running, total)
	case wire.StackPartial:
		return fmt.Sprintf("Stack partially running: %d of %d services up", running, total)
	case wire.StackStopped:
		return "Stack stopped"
	case wire.StackCreated:
		return "Stack has no containers"
	default:
		return "Stack " + st.Status
	}
}
