package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// connectTimeout bounds the calls made before the event stream opens, so a
// hung engine counts as unreachable instead of stalling its goroutine.
const connectTimeout = 15 * time.Second

// describeTimeout bounds the engine's /version and /info, asked once it
// answered a ping: Podman computes them from its runtimes, its storage and
// the package manager, which takes seconds, and far more on a busy machine.
const describeTimeout = time.Minute

// While the event stream is open the engine is pinged about every
// livenessInterval and must answer within livenessTimeout. An engine that
// hangs (or a link that silently drops) keeps the stream open without
// sending anything, and a quiet engine sends nothing either, so only a
// request of our own can tell them apart. Each wait is drawn within
// livenessJitter of the interval, so engines connected together (500 at a
// start) do not all ping at once. A hung engine is reported unreachable
// within 17 s (the longest wait and the ping's timeout).
const (
	livenessInterval = 10 * time.Second
	livenessJitter   = 2 * time.Second
	livenessTimeout  = 5 * time.Second
)

// run keeps the engine's event stream going until ctx ends: connect, catch
// up on what the engine still remembers, stream, and on any failure mark
// the engine unreachable, wait, and do it again.
func (e *engine) run(ctx context.Context) {
	b := backoff.Backoff{Min: e.minB, Max: e.maxB}
	var cause error // why the previous stream ended
	for {
		// Seeded before every stream, not only the first: on a store
		// shared by replicas the record grows while this one is cut off
		// from the engine, and resuming from it stores nothing twice.
		e.seed(ctx)
		cause = e.stream(ctx, cause, &b)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(cause, errOverflow) {
			e.log.Warn("event stream fell behind", "err", cause)
			continue // the engine is fine: resubscribe at once
		}
		e.unreachable(cause)
		if !b.Wait(ctx) {
			return
		}
	}
}

// seed loads the identities of the recently stored events, so a stream
// resumed after crowsnest's own restart (or another replica's writes)
// stores each event once.
func (e *engine) seed(ctx context.Context) {
	recent, err := e.journal.Recent(ctx, e.name, e.window)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("cannot read the last stored events; resuming from the events this process stored", "err", err)
		}
		return
	}
	for _, ev := range recent {
		e.seen.add(ev)
	}
}

// stream connects once, catches up, and stores events until the stream
// fails; it always returns an error, ctx's own when ctx ended.
func (e *engine) stream(ctx context.Context, cause error, b *backoff.Backoff) error {
	hs, err := e.handshake(ctx)
	if err != nil {
		return err
	}
	e.kind = hs.kind
	since, err := e.catchUp(ctx, hs.now, cause)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil) // ends the client's reading goroutine and the liveness check
	res := e.cli.Events(sctx, client.EventsListOptions{
		Since:   sinceParam(since),
		Filters: make(client.Filters).Add("type", string(events.ContainerEventType)),
	})
	// Events returns once the engine answered (or the request failed), so
	// an error here means the subscription never started.
	select {
	case err := <-res.Err:
		return fmt.Errorf("subscribing to events: %w", err)
	default:
	}
	e.connected(hs)
	b.Reset()

	queue := newBacklog(e.queueSize)
	written := make(chan error, 1)
	go func() { written <- e.writeQueue(ctx, queue) }()
	live := make(chan struct{})
	go func() {
		defer close(live)
		e.checkLiveness(sctx, cancel)
	}()
	err = e.read(sctx, cancel, res, queue)
	cancel(nil)
	<-live // no ping outlives Run and the client's Close
	queue.close()
	if werr := <-written; werr != nil {
		return werr
	}
	return err
}

// read moves the engine's messages to queue until the stream ends, and
// ends it with errOverflow when queue is full.
func (e *engine) read(ctx context.Context, cancel context.CancelCauseFunc, res client.EventsResult, queue *backlog) error {
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case m := <-res.Messages:
			if !queue.push(e.convert(m)) {
				cancel(errOverflow)
				return errOverflow
			}
		case err := <-res.Err:
			if ctx.Err() != nil {
				return context.Cause(ctx) // the liveness check ended it: say why
			}
			if errors.Is(err, io.EOF) || err == nil {
				return errors.New("event stream: the engine closed it")
			}
			return fmt.Errorf("event stream: %w", err)
		}
	}
}

// catchUp stores what the engine remembers and crowsnest has not stored
// yet, up to now (engine clock). When the engine's memory no longer reaches
// back to the last stored event, it stores a gap and reconciles the record
// with the engine's container list. On the very first connection there is
// nothing to catch up on: it only marks now, durably, as where the record
// starts. Until an event is stored that mark stands for the last one, also
// for a crowsnest restarted meanwhile: events it could not store (a full
// disk) are caught up on, or a gap says they are missing.
// It returns where the live subscription starts: far enough back that
// nothing between the catch-up and the subscription is missed.
func (e *engine) catchUp(ctx context.Context, now int64, cause error) (since int64, err error) {
	last, from := e.seen.newest, e.mark // last: before the catch-up stores anything
	if last > 0 {
		from = e.seen.resumeFrom()
	}
	if from == 0 {
		if e.mark, err = e.journal.Start(ctx, e.name, now); err != nil {
			return 0, err
		}
		if e.mark == now {
			return now, nil
		}
		from = e.mark
	}
	if last == 0 {
		last = e.mark // nothing stored yet: the record starts at the mark
	}
	var r ring
	if e.kind == wire.EnginePodman {
		r, err = e.readPodmanLog(ctx, from)
	} else {
		r, err = e.readRing(ctx, now)
	}
	if err != nil {
		return 0, err
	}
	var replay []wire.ContainerEvent
	for _, ev := range r.events {
		if ev.TimeNano >= from {
			replay = append(replay, ev)
		}
	}
	for chunk := range slices.Chunk(replay, maxIngestBatch) {
		if err := e.storeBatch(ctx, chunk); err != nil {
			return 0, err
		}
	}
	since = max(now-e.window.Nanoseconds(), 1)
	if reason := gapReason(e.kind, r, last, cause); reason != "" {
		return since, e.recordGap(ctx, reason, last, now)
	}
	return since, nil
}

// recordGap stores a gap of the given reason between the last stored event
// and now, and the changes a reconciliation finds.
func (e *engine) recordGap(ctx context.Context, reason string, last, now int64) error {
	g := wire.Gap{
		Host:    e.name,
		Reason:  reason,
		From:    time.Unix(0, last).UTC(),
		To:      time.Unix(0, now).UTC(),
		Message: gapMessages[reason],
	}
	e.log.Warn("event record has a gap; reconciling with the container list", "reason", reason, "from", g.From, "to", g.To)
	changes, err := e.reconcile(ctx, g)
	if err != nil {
		return err
	}
	if err := e.journal.Gap(ctx, g); err != nil {
		return err
	}
	if len(changes) == 0 {
		return nil
	}
	return e.journal.Store(ctx, changes)
}

// gapMessages say in words what each gap reason means for the record.
var gapMessages = map[string]string{
	wire.GapEngineRestart: "the engine restarted while crowsnest was not subscribed; its events in this window are lost, and changes found in its container list are recorded as reconciled",
	wire.GapOutage:        "crowsnest was cut off from the engine longer than the engine's memory of 256 events covers; changes found in its container list are recorded as reconciled",
	wire.GapOverflow:      "crowsnest fell behind the engine's stream and the engine had forgotten the events in between; changes found in its container list are recorded as reconciled",
	wire.GapEventLog:      "the engine's event log no longer reaches back to the last stored event (rotated, pruned or reset); changes found in its container list are recorded as reconciled",
}

// checkLiveness pings the engine until ctx ends, and ends the stream with
// the reason when a ping fails, so a hung engine is reported unreachable
// and reconnected rather than shown connected forever.
func (e *engine) checkLiveness(ctx context.Context, fail context.CancelCauseFunc) {
	for {
		wait := livenessInterval - livenessJitter + rand.N(2*livenessJitter)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, livenessTimeout)
		_, err := e.cli.Ping(pctx, client.PingOptions{})
		cancel()
		if err != nil && ctx.Err() == nil {
			fail(fmt.Errorf("engine stopped answering: ping: %w", err))
			return
		}
	}
}

// handshake is what connecting to an engine learns: which engine it is,
// its versions, what it cannot offer or does otherwise, and its clock
// (timeNano), from which the stream resumes.
type handshake struct {
	kind, version, apiVersion string
	unavailable, differences  []wire.FeatureNote
	now                       int64
}

// handshake pings the engine and learns what connecting it tells. Version,
// info and Podman's own info are asked at once: Podman takes seconds over
// each (it runs its runtimes and the package manager to fill them in), and
// the last only answers on Podman.
func (e *engine) handshake(ctx context.Context) (handshake, error) {
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	// Negotiate once, not on every connection: a forced renegotiation
	// rewrites the client's version while stats, logs and stacks read it
	// from other goroutines (the moby client guards only the first one).
	// An upgraded engine still speaks the version agreed before.
	if _, err := e.cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return handshake{}, fmt.Errorf("ping: %w", err)
	}
	ctx, cancel = context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	var (
		wg            sync.WaitGroup
		v             client.ServerVersionResult
		info          client.SystemInfoResult
		logger        string
		verr, infoErr error
		loggerErr     error
	)
	wg.Go(func() { v, verr = e.cli.ServerVersion(ctx, client.ServerVersionOptions{}) })
	wg.Go(func() { info, infoErr = e.cli.Info(ctx, client.InfoOptions{}) })
	wg.Go(func() { logger, loggerErr = e.podmanEventsLogger(ctx) })
	wg.Wait()
	if verr != nil {
		return handshake{}, fmt.Errorf("version: %w", verr)
	}
	if infoErr != nil {
		return handshake{}, fmt.Errorf("info: %w", infoErr)
	}
	clock, err := time.Parse(time.RFC3339Nano, info.Info.SystemTime)
	if err != nil {
		return handshake{}, fmt.Errorf("engine clock %q: %w", info.Info.SystemTime, err)
	}
	hs := handshake{kind: engineKind(v), version: v.Version, apiVersion: v.APIVersion, now: clock.UnixNano()}
	if hs.kind == wire.EnginePodman {
		if loggerErr != nil {
			// Knowing helps (events_logger "none"), not knowing breaks nothing.
			e.log.Debug("Podman's events logger unknown", "err", loggerErr)
		}
		hs.unavailable, hs.differences = podmanUnavailable(info, logger), podmanDifferences
	}
	return hs, nil
}

// convert turns the engine's message into the /events/ws frame, in
// Docker's words whatever the engine.
func (e *engine) convert(m events.Message) wire.ContainerEvent {
	ev := convert(e.name, m)
	if e.kind == wire.EnginePodman {
		podmanEvent(&ev)
	}
	return ev
}

// convert turns a Docker engine's message into the /events/ws frame. The
// legacy fields status, id and from are filled as the engine itself fills
// them for container events (newer engines no longer send them).
func convert(host string, m events.Message) wire.ContainerEvent {
	attrs := maps.Clone(m.Actor.Attributes)
	if attrs == nil {
		attrs = map[string]string{} // so the frame shows {} rather than null
	}
	nano := m.TimeNano
	if nano == 0 {
		nano = m.Time * int64(time.Second)
	}
	return wire.ContainerEvent{
		Status:   string(m.Action),
		ID:       m.Actor.ID,
		From:     attrs["image"],
		Type:     string(m.Type),
		Action:   string(m.Action),
		Actor:    wire.Actor{ID: m.Actor.ID, Attributes: attrs},
		Time:     m.Time,
		TimeNano: nano,
		Host:     host,
	}
}

// sinceParam formats a timeNano as the engine's "seconds.nanoseconds".
func sinceParam(nano int64) string {
	if nano == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%09d", nano/int64(time.Second), nano%int64(time.Second))
}
