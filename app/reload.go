package main

import (
	"context"
	"time"
)

// listRefresh is how often a page's list is reread without being asked.
const listRefresh = 15 * time.Second

// reloader lets handlers ask a page's list loop to reread now. Requests
// made while one is pending merge into it.
type reloader chan struct{}

func newReloader() reloader { return make(reloader, 1) }

// request asks for a reread without waiting.
func (r reloader) request() {
	select {
	case r <- struct{}{}:
	default:
	}
}

// wait returns true when the list should be reread (asked for, or
// listRefresh passed), false once ctx ends. settle delays an asked-for
// reread, so a burst of requests costs one.
func (r reloader) wait(ctx context.Context, settle time.Duration) bool {
	t := time.NewTimer(listRefresh)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-r:
		time.Sleep(settle)
	case <-t.C:
	}
	return true
}
