// Package hub fans one stream of values out to many subscribers. Each
// subscriber has its own bounded queue; Publish never waits for anyone. A
// subscriber whose queue is full when a value arrives is cut off with
// ErrOverflow, so a slow reader loses its subscription instead of delaying the
// others, and can resume from where it stopped (since, Last-Event-ID).
package hub

import (
	"errors"
	"sync"
	"sync/atomic"
)

// ErrOverflow ends a subscription whose queue was full when a value arrived.
var ErrOverflow = errors.New("subscriber too slow: its queue overflowed")

// ErrClosed ends every subscription when the hub itself is closed.
var ErrClosed = errors.New("stream closed")

// Hub distributes published values to its current subscribers.
// The zero value is not usable; call New.
type Hub[T any] struct {
	mu      sync.RWMutex
	subs    map[*Subscription[T]]struct{}
	closed  bool
	dropped atomic.Uint64
}

// New returns an empty hub.
func New[T any]() *Hub[T] {
	return &Hub[T]{subs: make(map[*Subscription[T]]struct{})}
}

// Subscribe adds a subscriber whose queue holds up to size values (at least 1).
// On a closed hub the subscription is returned already ended with ErrClosed.
func (h *Hub[T]) Subscribe(size int) *Subscription[T] {
	if size < 1 {
		size = 1
	}
	s := &Subscription[T]{hub: h, ch: make(chan T, size), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.end(ErrClosed)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

// Publish queues v for every subscriber without blocking, and ends with
// ErrOverflow the subscriptions that had no room for it. Values from one
// goroutine reach each subscriber in the order they were published.
func (h *Hub[T]) Publish(v T) {
	var slow []*Subscription[T]
	h.mu.RLock()
	for s := range h.subs {
		select {
		case s.ch <- v:
		default:
			slow = append(slow, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range slow {
		if s.end(ErrOverflow) {
			h.dropped.Add(1)
		}
		h.remove(s)
	}
}

// Len reports the number of current subscribers.
func (h *Hub[T]) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

// Dropped reports how many subscriptions were ended with ErrOverflow so far.
func (h *Hub[T]) Dropped() uint64 { return h.dropped.Load() }

// Close ends every subscription with ErrClosed; later subscriptions start ended.
func (h *Hub[T]) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		s.end(ErrClosed)
		delete(h.subs, s)
	}
}

func (h *Hub[T]) remove(s *Subscription[T]) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// Subscription is one subscriber's queue. Read values from C until Done is
// closed; Err then tells why.
type Subscription[T any] struct {
	hub  *Hub[T]
	ch   chan T
	done chan struct{}
	once sync.Once
	err  error
}

// C delivers the published values in order. It is never closed: select on
// Done as well.
func (s *Subscription[T]) C() <-chan T { return s.ch }

// Done is closed when the subscription ends.
func (s *Subscription[T]) Done() <-chan struct{} { return s.done }

// Err is why the subscription ended: ErrOverflow, ErrClosed, or nil when the
// subscriber closed it itself. Valid once Done is closed.
func (s *Subscription[T]) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close ends the subscription; the hub stops queueing values for it.
func (s *Subscription[T]) Close() {
	s.end(nil)
	s.hub.remove(s)
}

// end records err and closes done the first time; it reports whether it did.
func (s *Subscription[T]) end(err error) bool {
	ended := false
	s.once.Do(func() {
		s.err = err
		close(s.done)
		ended = true
	})
	return ended
}
