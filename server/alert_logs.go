package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// alertLogQueue is how many lines may wait for the log rules of one
// container: a burst far larger than rules evaluated in microseconds fall
// behind on.
const alertLogQueue = 4096

// alertInspectTimeout bounds reading a container's TTY setting before its
// output is followed.
const alertInspectTimeout = 10 * time.Second

// alertLogs follows containers' output for the log rules through the
// Streams the log viewers use, so a container both watched by a rule and
// viewed costs the engine one follow.
type alertLogs struct {
	engines *docker.Engines
	streams *logs.Streams
	log     *slog.Logger
}

// Follow passes c's new lines to fn until ctx ends or c stops. A rule
// that falls behind a burst loses the lines it missed, not the follow.
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
	for {
		// Tail 0: only lines written from now on, so a restart of
		// crowsnest never fires on old lines again.
		view, err := l.streams.Open(ctx, c.Host, cli, ctr, logs.ViewOptions{Tail: 0, Queue: alertLogQueue})
		if err != nil {
			return err
		}
		err = followView(ctx, view, fn)
		view.Close()
		switch {
		case errors.Is(err, logs.ErrStopped):
			return nil
		case errors.Is(err, hub.ErrOverflow):
			l.log.Warn("log rules fell behind a container's output; lines were skipped", "container", c.Name, "host", c.Host)
		default:
			return err
		}
	}
}

// followView passes v's lines to fn until v ends (returning why) or ctx
// does: its backlog, then the live lines, including those still queued
// when the follow ended.
func followView(ctx context.Context, v *logs.View, fn func(wire.LogLine)) error {
	if err := v.Backlog(ctx, func(l wire.LogLine) error { fn(l); return nil }); err != nil {
		return err
	}
	pass := func(l wire.LogLine) {
		if v.Wants(l) {
			fn(l)
		}
	}
	for {
		select {
		case l := <-v.C():
			pass(l)
		case <-v.Done():
			for {
				select {
				case l := <-v.C():
					pass(l)
				default:
					return v.Err()
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
