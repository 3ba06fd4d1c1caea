package docker

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// engineMemory is how many events (of every type) an engine keeps for
// subscribers that resume with "since"; older ones are forgotten.
const engineMemory = 256

// ring is what an engine still remembers when crowsnest resubscribes: its
// whole event memory, read up to the engine's own clock.
type ring struct {
	size   int                   // events of every type
	oldest int64                 // timeNano of the oldest; 0 when empty
	events []wire.ContainerEvent // the container events among them, in order
}

// readRing reads the engine's event memory up to until (engine clock), a
// finite request: "since" at the epoch's first second asks for all of it.
func (e *engine) readRing(ctx context.Context, until int64) (ring, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	res := e.cli.Events(ctx, client.EventsListOptions{Since: sinceParam(1), Until: sinceParam(until)})
	var r ring
	for {
		select {
		case m := <-res.Messages:
			nano := m.TimeNano
			if nano == 0 {
				nano = m.Time * 1e9
			}
			if r.size == 0 || nano < r.oldest {
				r.oldest = nano
			}
			r.size++
			if m.Type == "container" {
				r.events = append(r.events, e.convert(m))
			}
		case err := <-res.Err:
			if errors.Is(err, io.EOF) || err == nil {
				return r, nil
			}
			return r, fmt.Errorf("reading the engine's event memory: %w", err)
		}
	}
}

// gapReason tells whether the engine's memory r still reaches back to the
// last stored event (at timeNano last), so every event since is in it: ""
// when it does, else why not. cause is why the previous stream ended. A
// Podman engine keeps its events in a log that outlives its restarts, read
// from just before last: only a log that lost last (rotated, pruned, reset)
// breaks continuity.
func gapReason(kind string, r ring, last int64, cause error) string {
	if last == 0 || (r.size > 0 && r.oldest <= last) {
		return ""
	}
	if kind == wire.EnginePodman {
		return wire.GapEventLog
	}
	if r.size < engineMemory {
		// The engine never forgot anything, yet it no longer has the last
		// event it sent: it is a new engine process.
		return wire.GapEngineRestart
	}
	if errors.Is(cause, errOverflow) {
		return wire.GapOverflow
	}
	return wire.GapOutage
}
