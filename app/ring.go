package main

// ring keeps the last cap values pushed: chart samples, log lines. Pushing is
// O(1) and never allocates once full, so a stream of thousands of lines a
// second costs no garbage beyond the values themselves.
type ring[T any] struct {
	buf   []T
	start int // index of the oldest value when full
	full  bool
}

// newRing makes a ring holding at most capacity values.
func newRing[T any](capacity int) *ring[T] {
	return &ring[T]{buf: make([]T, 0, capacity)}
}

// push appends v, dropping the oldest value when the ring is full.
func (r *ring[T]) push(v T) {
	if !r.full {
		r.buf = append(r.buf, v)
		r.full = len(r.buf) == cap(r.buf)
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % len(r.buf)
}

// len is how many values the ring holds.
func (r *ring[T]) len() int { return len(r.buf) }

// at is the i-th value, oldest first.
func (r *ring[T]) at(i int) T {
	return r.buf[(r.start+i)%len(r.buf)]
}

// last is the newest value; ok is false when the ring is empty.
func (r *ring[T]) last() (v T, ok bool) {
	if len(r.buf) == 0 {
		return v, false
	}
	return r.at(len(r.buf) - 1), true
}

// slice copies the values, oldest first.
func (r *ring[T]) slice() []T {
	out := make([]T, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// reset empties the ring, keeping its capacity.
func (r *ring[T]) reset() {
	r.buf = r.buf[:0]
	r.start = 0
	r.full = false
}
