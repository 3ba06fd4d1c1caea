package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// alertInspectTimeout bounds reading a container's TTY setting before its
// output is followed.
const alertInspectTimeout = 10 * time.Second

// alertLogs follows containers' output for the log rules through the
// Streams the log viewers use, so a container both watched by a rule and
// viewed costs the engine one follow.
type alertLogs struct {
	engines *docker.Engines
	streams *logs.Streams
}

// Follow passes c's new lines to fn until ctx ends or c stops, on the
// follow's goroutine (logs.Streams.Tap): rules look at each line where it
// is read, with no queue to fall behind and no handoff per line.
func (l alertLogs) Follow(ctx context.Context, c wire.ContainerSummary, fn func(wire.LogLine)) error {
	cli, err := l.engines.Client(c.Host)
	if err != nil {
		return err
	}
	ictx, cancel := context.WithTimeout(ctx, alertInspectTimeout)
	info, err := cli.ContainerInspect(ictx, c.ID, client.ContainerInspectOptions{})
	cancel()
	if err != nil {
		return fmt.Errorf("inspecting %.12s on %s: %w", c.ID, c.Host, err)
	}
	ctr := logs.Container{ID: info.Container.ID, TTY: info.Container.Config != nil && info.Container.Config.Tty}
	err = l.streams.Tap(ctx, c.Host, cli, ctr, fn)
	if errors.Is(err, logs.ErrStopped) {
		return nil
	}
	return err
}
