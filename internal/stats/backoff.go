package stats

import (
	"context"
	"time"
)

// backoff doubles the wait between retries from min up to max; reset
// starts over after a success. Retries here are per container or per
// engine and few, so no jitter is needed.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur < b.min {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// wait sleeps for the next backoff or until ctx ends; it reports whether to
// go on.
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
