package logs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// View is one viewer of a container's logs: its own backlog, then the
// shared live lines.
type View struct {
	s    *Streams
	f    *follower
	opts ViewOptions

	items []wire.LogLine                  // backlog from the follow's memory
	sub   *hub.Subscription[wire.LogLine] // nil when the follow had already ended
	subAt uint64                          // the follow's published count when sub began
	// When memory does not reach back far enough: fetch from the engine
	// the lines stamped before olderUntil, keeping the last olderNeed
	// (all when negative). With coarse stamps (see coarse.go) the request
	// reaches to the end of memory's first second, coarseSecond, and
	// rereads memory's first reread lines there.
	older        bool
	olderUntil   time.Time
	olderNeed    int
	coarseSecond time.Time
	reread       int

	once sync.Once
}

// plan copies the follow's memory and subscribes, atomically with respect
// to new lines, and decides what of the backlog has to come from the engine.
func (v *View) plan() {
	f, o := v.f, v.opts
	f.mu.Lock()
	v.items = f.recent.since(o.Since)
	oldest := f.recent.oldest()
	complete := f.fromStart && !f.recent.evicted
	if !f.ended {
		v.sub, v.subAt = f.hub.Subscribe(o.Queue), f.published
	}
	f.mu.Unlock()

	switch {
	case o.Tail >= 0 && len(v.items) >= o.Tail:
		v.items = v.items[len(v.items)-o.Tail:]
	case complete || oldest.IsZero():
		// Memory holds everything the engine has.
	case !o.Since.IsZero() && oldest.Before(o.Since):
		// Memory reaches back past since.
	default:
		v.older, v.olderUntil, v.olderNeed = true, oldest.Add(-time.Nanosecond), -1
		if o.Tail >= 0 {
			v.olderNeed = o.Tail - len(v.items)
		}
		if coarseLines(v.items) {
			// Memory's oldest line may be anywhere in its second, and
			// so may the lines before it.
			v.olderUntil, v.coarseSecond, v.reread = endOfSecond(oldest), oldest, firstSecond(v.items)
		}
	}
}

// Backlog sends the viewer's backlog, oldest first: the lines before the
// follow's memory from the engine when needed, then the remembered ones.
// The live lines follow on C.
func (v *View) Backlog(ctx context.Context, send func(wire.LogLine) error) error {
	if v.older {
		if err := v.sendOlder(ctx, send); err != nil {
			return err
		}
	}
	for _, l := range v.items {
		if err := send(l); err != nil {
			return err
		}
	}
	v.items = nil
	return nil
}

// C delivers the live lines after the backlog; pass them through Wants.
// Read it until Done is closed; what it still holds then was published
// before the follow ended and belongs to the viewer.
func (v *View) C() <-chan wire.LogLine {
	if v.sub == nil {
		return nil
	}
	return v.sub.C()
}

// Done is closed when the live lines end.
func (v *View) Done() <-chan struct{} {
	if v.sub == nil {
		return closed
	}
	return v.sub.Done()
}

// Err is why the live lines ended, once Done is closed: ErrStopped when
// the container stopped, hub.ErrOverflow when the viewer fell too far
// behind, ErrClosed when Streams closed, or what else ended the follow.
func (v *View) Err() error {
	if v.sub != nil {
		if err := v.sub.Err(); !errors.Is(err, hub.ErrClosed) {
			return err
		}
	}
	return v.f.endError()
}

// Wants reports whether a live line is for this viewer: not stamped
// before its Since.
func (v *View) Wants(l wire.LogLine) bool {
	return v.opts.Since.IsZero() || !l.Timestamp.Before(v.opts.Since)
}

// closed is the Done of a view whose follow had ended before it joined.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// sendOlder asks the engine for the lines before the follow's memory and
// sends the last olderNeed of them. With coarse stamps it holds every line
// of memory's first second apart, to cut it where memory starts.
func (v *View) sendOlder(ctx context.Context, send func(wire.LogLine) error) error {
	var keep, second []wire.LogLine
	var sendErr error
	asm := newAssembler(v.s.opts.MaxLine, v.f.tty, func(l wire.LogLine) {
		switch {
		case sendErr != nil:
		case v.reread > 0 && l.Timestamp.Equal(v.coarseSecond):
			second = append(second, l)
		case v.olderNeed < 0:
			sendErr = send(l) // all of them: stream rather than hold
		case v.olderNeed > 0:
			keep = append(keep, l)
			if len(keep) > v.olderNeed {
				keep = keep[1:]
			}
		}
	})
	opts := client.ContainerLogsOptions{Until: engineTime(v.olderUntil)}
	if !v.opts.Since.IsZero() {
		opts.Since = engineTime(v.opts.Since)
	}
	err := readLogs(ctx, v.s, v.f.eng, v.f.id, v.f.tty, RequestBacklog, opts,
		func(stream string, ts time.Time, content []byte) error {
			if err := asm.add(stream, ts, content); err != nil {
				return err
			}
			return sendErr
		})
	if err != nil {
		if sendErr != nil {
			return sendErr
		}
		return fmt.Errorf("backlog: %w", err)
	}
	// A line still open continues in the follow's memory.
	asm.flush(true)
	if sendErr != nil {
		return sendErr
	}
	keep = append(keep, beforeMemory(second, v.items[:v.reread])...)
	if v.olderNeed >= 0 && len(keep) > v.olderNeed {
		keep = keep[len(keep)-v.olderNeed:]
	}
	for _, l := range keep {
		if err := send(l); err != nil {
			return err
		}
	}
	return nil
}

// Rejoin follows on after the view's subscription overflowed: taken is how
// many live lines the viewer read from C since it joined (or last
// rejoined), the ones still queued at the overflow included. It subscribes
// again, atomically with respect to new lines, and returns how many lines
// were published meanwhile that the viewer will never see on C. When the
// follow has ended meanwhile there is nothing to rejoin: Done is closed
// and Err says why the follow ended.
func (v *View) Rejoin(taken uint64) uint64 {
	f := v.f
	f.mu.Lock()
	defer f.mu.Unlock()
	missed := f.published - v.subAt - min(taken, f.published-v.subAt)
	v.sub.Close()
	v.sub = nil
	if !f.ended {
		v.sub, v.subAt = f.hub.Subscribe(v.opts.Queue), f.published
	}
	return missed
}

// Close leaves the follow; the last viewer leaving stops it after the grace
// period. Safe to call more than once.
func (v *View) Close() {
	v.once.Do(func() {
		if v.sub != nil {
			v.sub.Close()
		}
		v.s.release(v.f)
	})
}
