package docker

import (
	"context"
	"math/rand/v2"
	"time"
)

// Default retry bounds: quick enough to notice a restarted engine within
// seconds, slow enough not to hammer one that is down for long.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// backoff yields exponentially growing waits between min and max. Each wait
// is jittered down by up to half, so many crowsnest instances (or engines)
// failing together do not retry in lockstep.
type backoff struct {
	min, max time.Duration
	attempt  int
}

// next returns the wait before the next attempt and counts the attempt.
func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	b.attempt++
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

// reset starts over from min after a success.
func (b *backoff) reset() { b.attempt = 0 }

// wait sleeps for the next backoff, or until ctx ends; it reports whether
// the caller should go on.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
