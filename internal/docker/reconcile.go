package docker

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// reconcileDepth bounds how much of the record a reconciliation reads: the
// newest events of the host, enough to know every container a busy engine
// has touched in a long while.
const reconcileDepth = 50_000

// recordState is what the record says of a container: whether it exists and
// runs, from the newest stored action.
func recordState(action string) (exists, running bool) {
	switch action {
	case "destroy":
		return false, false
	case "start", "restart", "unpause", "pause":
		return true, true
	case "die", "stop", "kill", "oom", "create":
		return true, false
	}
	return true, false // exec, health_status, rename…: no change of state known
}

// reconcile compares the engine's container list with the record and returns
// the changes the record lacks, as events marked with wire.ReconciledAttribute
// and the gap g they close, timed at g.To (engine clock): the precise moment
// is lost with the gap.
func (e *engine) reconcile(ctx context.Context, g wire.Gap) ([]wire.ContainerEvent, error) {
	last, err := e.journal.LastActions(ctx, e.name, reconcileDepth)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	list, err := e.cli.ContainerList(lctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, fmt.Errorf("listing containers to reconcile: %w", err)
	}
	now, gapFrom := g.To.UnixNano(), g.From.Format(time.RFC3339Nano)
	var out []wire.ContainerEvent
	onEngine := map[string]bool{}
	for _, c := range list.Items {
		onEngine[c.ID] = true
		running := c.State == container.StateRunning || c.State == container.StatePaused
		prev, known := last[c.ID]
		exists, wasRunning := recordState(prev.Action)
		if !known || !exists {
			out = append(out, e.listed(c, "create", now, gapFrom))
			exists = true
		}
		switch {
		case running && !wasRunning:
			out = append(out, e.listed(c, "start", now, gapFrom))
		case !running && wasRunning:
			die := e.listed(c, "die", now, gapFrom)
			die.Actor.Attributes["exitCode"] = strconv.Itoa(e.exitCode(ctx, c.ID))
			out = append(out, die)
		}
	}
	for id, prev := range last {
		if exists, running := recordState(prev.Action); exists && !onEngine[id] {
			if running {
				out = append(out, gone(prev, "die", now, gapFrom))
			}
			out = append(out, gone(prev, "destroy", now, gapFrom))
		}
	}
	return out, nil
}

// listed is a reconciled event of a container on the engine's list.
func (e *engine) listed(c container.Summary, action string, now int64, gapFrom string) wire.ContainerEvent {
	attrs := maps.Clone(c.Labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["image"] = c.Image
	if len(c.Names) > 0 {
		attrs["name"] = trimSlash(c.Names[0])
	}
	return reconciled(e.name, c.ID, action, attrs, now, gapFrom)
}

// gone is a reconciled event of a container the engine no longer has,
// described as the record last saw it.
func gone(prev wire.ContainerEvent, action string, now int64, gapFrom string) wire.ContainerEvent {
	attrs := maps.Clone(prev.Actor.Attributes)
	delete(attrs, "exitCode")
	return reconciled(prev.Host, prev.Actor.ID, action, attrs, now, gapFrom)
}

func reconciled(host, id, action string, attrs map[string]string, now int64, gapFrom string) wire.ContainerEvent {
	attrs[wire.ReconciledAttribute] = "true"
	attrs[wire.ReconciledGapAttribute] = gapFrom
	return wire.ContainerEvent{
		Status:   action,
		ID:       id,
		From:     attrs["image"],
		Type:     "container",
		Action:   action,
		Actor:    wire.Actor{ID: id, Attributes: attrs},
		Time:     now / int64(time.Second),
		TimeNano: now,
		Host:     host,
	}
}

// exitCode is a stopped container's exit code, -1 when it cannot be read.
func (e *engine) exitCode(ctx context.Context, id string) int {
	ictx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	res, err := e.cli.ContainerInspect(ictx, id, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil {
		return -1
	}
	return res.Container.State.ExitCode
}

func trimSlash(name string) string {
	if len(name) > 0 && name[0] == '/' {
		return name[1:]
	}
	return name
}
