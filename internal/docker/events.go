package docker

import (
	"context"
	"errors"
	"fmt"
	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"io"
	"maps"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// connectTimeout bounds the calls made before the event stream opens, so a
// hung engine counts as unreachable instead of stalling its goroutine.
const connectTimeout = 15 * time.Second

// While the event stream is open the engine is pinged every
// livenessInterval and must answer within livenessTimeout. An engine that
// hangs (or a link that silently drops) keeps the stream open without
// sending anything, and a quiet engine sends nothing either, so only a
// request of our own can tell them apart.
const (
	livenessInterval = 5 * time.Second
	livenessTimeout  = 5 * time.Second
)

// run keeps the engine's event stream going until ctx ends: connect,
// stream, and on any failure mark the engine unreachable, wait, and resume
// from the cursor.
func (e *engine) run(ctx context.Context) {
	var cur cursor
	if e.resume != nil {
		if nano, ok := e.resume(e.name); ok {
			cur = after(nano)
		}
	}
	b := backoff.Backoff{Min: e.minB, Max: e.maxB}
	for {
		err := e.stream(ctx, &cur, &b)
		if ctx.Err() != nil {
			return
		}
		e.unreachable(err)
		if !b.Wait(ctx) {
			return
		}
	}
}

// stream connects once and passes events to the sink until the stream
// fails; it always returns an error, ctx's own when ctx ended.
func (e *engine) stream(ctx context.Context, cur *cursor, b *backoff.Backoff) error {
	version, apiVersion, err := e.handshake(ctx, cur)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil) // ends the client's reading goroutine and the liveness check
	res := e.cli.Events(sctx, client.EventsListOptions{
		Since:   sinceParam(cur.nano),
		Filters: make(client.Filters).Add("type", string(events.ContainerEventType)),
	})
	// Events returns once the engine answered (or the request failed), so
	// an error here means the subscription never started.
	select {
	case err := <-res.Err:
		return fmt.Errorf("subscribing to events: %w", err)
	default:
	}
	e.connected(version, apiVersion)
	b.Reset()
	live := make(chan struct{})
	go func() {
		defer close(live)
		e.checkLiveness(sctx, cancel)
	}()
	// Wait for the check, so no ping outlives Run and the client's Close.
	defer func() { cancel(nil); <-live }()
	for {
		select {
		case <-sctx.Done():
			return context.Cause(sctx)
		case m := <-res.Messages:
			ev := convert(e.name, m)
			if cur.seen(ev) {
				continue // repeated because "since" is inclusive
			}
			if err := e.deliver(ctx, ev); err != nil {
				return err
			}
			cur.advance(ev)
		case err := <-res.Err:
			if sctx.Err() != nil {
				return context.Cause(sctx) // the liveness check ended it: say why
			}
			if errors.Is(err, io.EOF) || err == nil {
				return errors.New("event stream: the engine closed it")
			}
			return fmt.Errorf("event stream: %w", err)
		}
	}
}

// checkLiveness pings the engine until ctx ends, and ends the stream with
// the reason when a ping fails, so a hung engine is reported unreachable
// and reconnected rather than shown connected forever.
func (e *engine) checkLiveness(ctx context.Context, fail context.CancelCauseFunc) {
	t := time.NewTicker(livenessInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
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

// handshake pings the engine, learns its versions and, on the very first
// connection without a resume point, starts the cursor at the engine's own
// clock so events during a later outage are replayed even if none came
// before it.
func (e *engine) handshake(ctx context.Context, cur *cursor) (version, apiVersion string, err error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	// Negotiate on every connection: the engine may have been upgraded.
	if _, err := e.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true, ForceNegotiate: true}); err != nil {
		return "", "", fmt.Errorf("ping: %w", err)
	}
	v, err := e.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", "", fmt.Errorf("version: %w", err)
	}
	if !cur.set() {
		info, err := e.cli.Info(ctx, client.InfoOptions{})
		if err != nil {
			return "", "", fmt.Errorf("info: %w", err)
		}
		now, err := time.Parse(time.RFC3339Nano, info.Info.SystemTime)
		if err != nil {
			return "", "", fmt.Errorf("engine clock %q: %w", info.Info.SystemTime, err)
		}
		*cur = from(now.UnixNano())
	}
	return v.Version, v.APIVersion, nil
}

// deliver passes ev to the sink, retrying the same event with backoff until
// it is kept or ctx ends: skipping it would lose it for good. The stream is
// not read meanwhile; the engine buffers for a while.
func (e *engine) deliver(ctx context.Context, ev wire.ContainerEvent) error {
	b := backoff.Backoff{Min: e.minB, Max: e.maxB}
	for {
		err := e.sink(ctx, ev)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.log.Warn("event not kept, retrying", "id", ev.ID, "action", ev.Action, "timeNano", ev.TimeNano, "err", err)
		if !b.Wait(ctx) {
			return ctx.Err()
		}
	}
}

// convert turns the engine's message into the /events/ws frame. The legacy
// fields status, id and from are filled as the engine itself fills them for
// container events (newer engines no longer send them).
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
