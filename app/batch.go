package main

import (
	"slices"
	"sync"
)

// batch collects items from a stream goroutine for the UI goroutine, like
// statsFeed: the first item after a take asks for a flush, later ones ride
// along, so a burst (a history replay of thousands of events) costs one
// render rather than thousands.
type batch[T any] struct {
	mu        sync.Mutex
	items     []T
	scheduled bool
}

// add queues v and reports whether the caller should schedule a flush.
func (b *batch[T]) add(v T) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.items = append(b.items, v)
	if b.scheduled {
		return false
	}
	b.scheduled = true
	return true
}

// take returns and clears the queued items.
func (b *batch[T]) take() []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	items := b.items
	b.items, b.scheduled = nil, false
	return items
}

// prependNewest puts a batch (oldest first, as take returns it) on top of
// list (newest first), keeping the newest limit items.
func prependNewest[T any](list, batch []T, limit int) []T {
	slices.Reverse(batch)
	list = append(batch, list...)
	return list[:min(len(list), limit)]
}
