// Package stream is the one loop behind every crowsnest socket and the SSE
// stream: it sends what comes first (a greeting, a backlog, a replay), then
// each value of a subscription as it arrives, writing with a deadline, and
// ends the stream when the client goes, when the client falls so far behind
// that its queue overflows (with a hint saying how to resume), or when the
// subscription ends. A stream says only what differs: its source, how a
// value becomes frames, and how a client resumes.
package stream

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
)

// Source is a live subscription: read C until Done is closed, then Err says
// why it ended. *hub.Subscription and the stats and log watches are ones.
type Source[T any] interface {
	C() <-chan T
	Done() <-chan struct{}
	Err() error
}

// Spec is what one stream says about itself; Socket and SSE do the rest.
type Spec[T any] struct {
	// Endpoint labels the stream's clients and drops on /metrics.
	Endpoint string
	// Source is the stream's subscription. The caller subscribes before it
	// reads any history, so that no value falls between the two.
	Source Source[T]
	// Start, when set, sends what comes before the live values. Its send
	// fails with the end of Source when that ended meanwhile, so a long
	// replay stops at once for a client already dropped (but not for one
	// Overflowed keeps); a Source that finished (a container that stopped
	// just after its viewer joined) lets Start send all of it, then the
	// live values it still holds.
	Start func(ctx context.Context, send func(frame []byte) error) error
	// Frames appends to dst the frames v becomes; none skips v. It returns
	// a Finish to end the stream normally.
	Frames func(v T, dst [][]byte) ([][]byte, error)
	// Sent, when set, is told of each value once its frames are written.
	Sent func(v T)
	// Until, when not zero, ends the stream normally at that time.
	Until time.Time
	// Resume, when set, says how a client resumes after an early end; it is
	// appended to the reason the stream gives, e.g. "; resume with after=12".
	Resume func() string
	// Out counts the frames written; nil counts nothing.
	Out prometheus.Counter
	// Overflowed, when set, keeps a client that fell a whole queue behind:
	// once Start is done and what was queued is delivered, it is called
	// instead of ending the stream, subscribes Source again and returns a
	// frame telling the client what it missed. For viewers of a burst (a
	// container's logs), to whom a marker serves better than a cut.
	Overflowed func() ([]byte, error)
}

// Finish ends a stream normally: it is returned by Frames or Start, or is
// the Err of a source whose end is the stream's end (a container that
// stopped). Last, when set, is sent before the stream closes.
type Finish struct {
	Reason string
	Last   []byte
}

func (f Finish) Error() string { return f.Reason }

// kind is how a stream ended.
type kind int

const (
	clientGone  kind = iota // the client left, or a write to it failed
	finished                // the stream is complete (Finish)
	overflowed              // the client fell a whole queue behind
	interrupted             // the source closed: a shutdown or a restart of the feed
	failed                  // something else broke the stream
)

// end is how and why a stream ended.
type end struct {
	kind   kind
	reason string // for finished
	last   []byte // for finished
	err    error  // for failed
}

// errWrite marks a failed write to the client.
var errWrite = errors.New("write to stream client")

// errSourceEnded stops Start when the source ended meanwhile, other than
// by finishing.
var errSourceEnded = errors.New("subscription ended")

// isFinished reports whether src ended with a Finish: the stream is
// complete (a container stopped), so what Start sends and what src still
// holds are the client's, unlike after an overflow or a shutdown.
func isFinished[T any](src Source[T]) bool {
	var fin Finish
	return errors.As(src.Err(), &fin)
}

// keepAlive is a frame written after a spell without any, for transports
// whose proxies time idle connections out.
type keepAlive struct {
	every time.Duration
	frame []byte
}

// run is the loop. write sends one frame, bounded in time by the transport.
func run[T any](ctx context.Context, sp Spec[T], write func([]byte) error, ka keepAlive) end {
	src := sp.Source
	send := func(frame []byte) error {
		if err := write(frame); err != nil {
			return errors.Join(errWrite, err)
		}
		if sp.Out != nil {
			sp.Out.Inc()
		}
		return nil
	}
	if sp.Start != nil {
		err := sp.Start(ctx, func(frame []byte) error {
			select {
			case <-src.Done():
				if !isFinished(src) && !sp.keeps(src) {
					return errSourceEnded
				}
			default:
			}
			return send(frame)
		})
		if err != nil {
			return ended(ctx, src, err)
		}
	}
	var untilC <-chan time.Time
	if !sp.Until.IsZero() {
		t := time.NewTimer(time.Until(sp.Until))
		defer t.Stop()
		untilC = t.C
	}
	var beatC <-chan time.Time
	var beat *time.Ticker
	if ka.every > 0 {
		beat = time.NewTicker(ka.every)
		defer beat.Stop()
		beatC = beat.C
	}
	var frames [][]byte
	deliver := func(v T) error {
		var err error
		frames, err = sp.Frames(v, frames[:0])
		if err != nil {
			return err
		}
		for _, f := range frames {
			if err := send(f); err != nil {
				return err
			}
		}
		if len(frames) > 0 {
			if beat != nil {
				beat.Reset(ka.every) // a frame is as good as a keep-alive
			}
			if sp.Sent != nil {
				sp.Sent(v)
			}
		}
		return nil
	}
	// drain delivers what an ended source still holds.
	drain := func() error {
		for {
			select {
			case v := <-src.C():
				if err := deliver(v); err != nil {
					return err
				}
			default:
				return nil
			}
		}
	}
	for {
		select {
		case v := <-src.C():
			if err := deliver(v); err != nil {
				return ended(ctx, src, err)
			}
		case <-beatC:
			if err := write(ka.frame); err != nil {
				return end{kind: clientGone}
			}
		case <-untilC:
			return end{kind: finished, reason: "until reached"}
		case <-src.Done():
			if sp.keeps(src) {
				if err := drain(); err != nil {
					return ended(ctx, src, err)
				}
				frame, err := sp.Overflowed()
				if err != nil {
					return ended(ctx, src, err)
				}
				if err := send(frame); err != nil {
					return ended(ctx, src, err)
				}
				continue
			}
			if errors.Is(src.Err(), hub.ErrOverflow) {
				return end{kind: overflowed}
			}
			// Not dropped: what was queued before the end is still the
			// client's, e.g. the last lines of a container that stopped.
			if err := drain(); err != nil {
				return ended(ctx, src, err)
			}
			return ended(ctx, src, src.Err())
		case <-ctx.Done():
			return end{kind: clientGone}
		}
	}
}

// ended tells how a stream ended from the error that ended it.
func ended[T any](ctx context.Context, src Source[T], err error) end {
	if errors.Is(err, errSourceEnded) {
		err = src.Err()
	}
	var fin Finish
	switch {
	case errors.As(err, &fin):
		return end{kind: finished, reason: fin.Reason, last: fin.Last}
	case errors.Is(err, errWrite), ctx.Err() != nil:
		return end{kind: clientGone}
	case errors.Is(err, hub.ErrOverflow):
		return end{kind: overflowed}
	case err == nil, errors.Is(err, hub.ErrClosed):
		return end{kind: interrupted}
	}
	return end{kind: failed, err: err}
}

// keeps reports whether src ended because the client fell behind and the
// stream goes on after telling it so (Overflowed).
func (sp Spec[T]) keeps(src Source[T]) bool {
	return sp.Overflowed != nil && errors.Is(src.Err(), hub.ErrOverflow)
}

// hint is the stream's resume hint, or nothing.
func (sp Spec[T]) hint() string {
	if sp.Resume == nil {
		return ""
	}
	return sp.Resume()
}
