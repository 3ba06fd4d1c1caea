package logs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// follower is the one engine follow of one container. It first reads the
// latest lines (history) into its memory, then follows from just after the
// newest of them, publishing every line to the viewers' hub and
// remembering it for viewers that join later.
//
// Why this is gap-free: the follow starts at an engine timestamp no later
// than that of any entry history may have missed, and drops the entries it
// reads again that history already passed on (see handover), so each entry
// is taken from one of the two whatever the clocks of crowsnest and the
// engine say. Cutting just after the newest history entry would not do:
// the engine stamps all 16 KiB pieces of a long line alike, so the rest of
// a line being written during history is stamped no later than its start.
// A viewer copies the memory and subscribes under the lock that publishing
// holds, so a line is either in its copy or in its queue, never both or
// neither.
type follower struct {
	s      *Streams
	key    string
	host   string
	id     string
	tty    bool
	eng    Engine
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{} // closed once history is in memory (or failed)

	// Guarded by Streams.mu.
	viewers int
	grace   *time.Timer

	mu     sync.Mutex
	recent *recent
	// fromStart is set when history held fewer lines than asked: memory
	// then starts at the container's first line, until it forgets one.
	fromStart bool
	hub       *hub.Hub[wire.LogLine]
	published uint64                // lines published so far; a view counts what it missed by it
	taps      []*func(wire.LogLine) // see Streams.Tap
	ended     bool
	over      chan struct{} // closed once ended
	err       error         // why the follow ended; nil when the container stopped
}

func newFollower(s *Streams, key, host string, eng Engine, c Container) *follower {
	ctx, cancel := context.WithCancel(s.ctx)
	return &follower{
		s: s, key: key, host: host, id: c.ID, tty: c.TTY, eng: eng,
		ctx: ctx, cancel: cancel, ready: make(chan struct{}),
		recent: newRecent(s.opts.Recent, s.opts.RecentBytes),
		hub:    hub.New[wire.LogLine](),
		over:   make(chan struct{}),
	}
}

// run reads history, then follows until the container stops, the last
// viewer's grace period ends, or the engine fails.
func (f *follower) run() {
	defer f.s.remove(f)
	defer f.cancel()
	log := f.s.opts.Logger.With("host", f.host, "container", shortID(f.id))
	asm := newAssembler(f.s.opts.MaxLine, f.tty, f.add)

	var seen []seenEntry
	err := f.read(RequestHistory, client.ContainerLogsOptions{Tail: strconv.Itoa(f.s.opts.Recent)},
		func(stream string, ts time.Time, content []byte) error {
			seen = append(seen, newSeenEntry(stream, ts, content))
			return asm.add(stream, ts, content)
		})
	fromStart := len(seen) < f.s.opts.Recent
	f.mu.Lock()
	f.fromStart = fromStart
	f.mu.Unlock()
	close(f.ready)
	if err != nil {
		f.end(err)
		log.Warn("container log history failed", "err", err)
		return
	}

	// A line history ended in the middle of stays in asm: the follow
	// continues it, starting early enough to have its rest (see handover).
	since, sk := handover(seen, asm.pendingSince(), fromStart)
	seen = nil // only skip is needed from here on
	opts := client.ContainerLogsOptions{Follow: true}
	if !since.IsZero() {
		opts.Since = engineTime(since)
	}
	log.Debug("following container logs", "since", opts.Since, "rereading", len(sk.skip))
	err = f.read(RequestFollow, opts, func(stream string, ts time.Time, content []byte) error {
		if sk.seen(stream, ts, content) {
			return nil
		}
		return asm.add(stream, ts, content)
	})
	switch {
	case err == nil:
		asm.flush(false) // the container stopped: its last line is complete
		log.Debug("container logs ended: container stopped")
	case f.ctx.Err() != nil:
		err = fmt.Errorf("follow stopped: %w", f.ctx.Err())
		log.Debug("container log follow stopped", "err", err)
	default:
		log.Warn("container log follow failed", "err", err)
	}
	f.end(err)
}

// read makes one engine log request with timestamps on both streams and
// passes every entry to fn.
func (f *follower) read(kind string, opts client.ContainerLogsOptions, fn entryFunc) error {
	return readLogs(f.ctx, f.s, f.eng, f.id, f.tty, kind, opts, fn)
}

// readLogs makes one engine log request of kind and decodes it to fn.
func readLogs(ctx context.Context, s *Streams, eng Engine, id string, tty bool, kind string, opts client.ContainerLogsOptions, fn entryFunc) error {
	opts.ShowStdout, opts.ShowStderr, opts.Timestamps = true, true, true
	s.count(kind)
	rc, err := eng.ContainerLogs(ctx, id, opts)
	if err != nil {
		return fmt.Errorf("%s logs of %s: %w", kind, shortID(id), err)
	}
	if tty {
		err = readRaw(rc, fn)
	} else {
		err = readFrames(rc, fn)
	}
	if cerr := rc.Close(); cerr != nil && err == nil && ctx.Err() == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s logs of %s: %w", kind, shortID(id), err)
	}
	return nil
}

// add remembers l and publishes it, under the lock viewers copy the memory
// and subscribe under.
func (f *follower) add(l wire.LogLine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recent.add(l)
	f.published++
	f.hub.Publish(l)
	for _, t := range f.taps {
		(*t)(l)
	}
}

// untap removes a tap: once it returns, the tap's function is not called.
func (f *follower) untap(t *func(wire.LogLine)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.taps = slices.DeleteFunc(f.taps, func(x *func(wire.LogLine)) bool { return x == t })
}

// end records why the follow ended and ends every view's subscription;
// they pass on what is still queued, then the reason.
func (f *follower) end(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended, f.err = true, err
	f.hub.Close()
	close(f.over)
}

// endError is what a view of f ends with once the follow is over.
func (f *follower) endError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		return ErrStopped
	}
	if errors.Is(f.err, context.Canceled) && f.s.ctx.Err() != nil {
		return ErrClosed
	}
	return f.err
}

// engineTime formats t as the engine's since/until take it, to the
// nanosecond.
func engineTime(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
