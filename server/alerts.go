package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/alerts"
	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// startAlerts opens the rule records and runs the alert rules over the
// stored container events, the containers' output (alertLogs) and the
// stats collector's samples, so it must come after startStats. The
// returned stop must run before the store closes: it waits for Run to
// end, and deliveries record their outcome in the store.
func (s *Server) startAlerts(ctx context.Context) (stop func(), err error) {
	rules, err := store.NewAlertRules(s.store)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	a, err := alerts.New(ctx, alerts.Options{
		Rules:      rules,
		Events:     s.store,
		Containers: s.stats,
		Logs:       alertLogs{s},
		Leases:     s.leases,
		Logger:     s.log,
	})
	if err != nil {
		return nil, err
	}
	s.alerts = a
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil {
			s.log.Error("alerts stopped", "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}, nil
}

// alertLogs follows containers' output for the log rules through the
// Streams the log viewers use, so a container both watched by a rule and
// viewed costs the engine one follow.
type alertLogs struct{ s *Server }

// Follow passes c's new lines to fn until ctx ends or c stops, on the
// follow's goroutine (logs.Streams.Tap): rules look at each line where it
// is read, with no queue to fall behind and no handoff per line.
func (l alertLogs) Follow(ctx context.Context, c wire.ContainerSummary, fn func(wire.LogLine)) error {
	cli, err := l.s.engines.Client(c.Host)
	if err != nil {
		return err
	}
	ictx, cancel := context.WithTimeout(ctx, inspectTimeout)
	info, err := cli.ContainerInspect(ictx, c.ID, client.ContainerInspectOptions{})
	cancel()
	if err != nil {
		return fmt.Errorf("inspecting %.12s on %s: %w", c.ID, c.Host, err)
	}
	ctr := logs.Container{ID: info.Container.ID, TTY: info.Container.Config != nil && info.Container.Config.Tty}
	err = l.s.containerLogs.Tap(ctx, c.Host, cli, ctr, fn)
	if errors.Is(err, logs.ErrStopped) {
		return nil
	}
	return err
}
