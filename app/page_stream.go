package main

import (
	"context"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// pageStream is the work a page runs for what its URL names (a stream, a
// poll): go-app keeps the page's component when only the URL changes, so on
// navigation the work for the old URL stops and the new one's starts, and
// it all stops when the page goes.
type pageStream struct {
	key    string // what the running work is for
	ctx    context.Context
	cancel func()
}

// restart starts over for key, unless the work running is already for it:
// it stops the old work and returns the context of the new, with fresh
// true; fresh is false (and ctx the running one) when key is unchanged.
func (s *pageStream) restart(parent context.Context, key string) (ctx context.Context, fresh bool) {
	if s.cancel != nil && key == s.key {
		return s.ctx, false
	}
	s.stop()
	s.key = key
	s.ctx, s.cancel = context.WithCancel(parent)
	return s.ctx, true
}

// stop ends the running work (for OnDismount).
func (s *pageStream) stop() {
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
}

// flushAfter runs fn on the UI goroutine after d, unless the work it was
// scheduled for has stopped meanwhile: a batch of frames from the old
// stream must not land in the new view.
func flushAfter(ctx app.Context, work context.Context, d time.Duration, fn func(app.Context)) {
	ctx.After(d, func(ctx app.Context) {
		if work.Err() == nil {
			fn(ctx)
		}
	})
}
