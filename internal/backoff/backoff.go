// Package backoff spaces out retries: waits grow exponentially from Min to
// Max and are jittered, so many clients (engines, containers, crowsnest
// instances) failing together do not retry in lockstep.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields the waits between attempts. The zero value with Min and
// Max set is ready to use; it is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	attempt  int
}

// Next returns the wait before the next attempt and counts the attempt: the
// attempt's exponential step, jittered down by up to half.
func (b *Backoff) Next() time.Duration {
	d := b.Min
	for i := 0; i < b.attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	b.attempt++
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

// Reset starts over from Min, after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Wait sleeps for the next wait or until ctx ends; it reports whether the
// caller should go on.
func (b *Backoff) Wait(ctx context.Context) bool {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
