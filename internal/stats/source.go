package stats

import (
	"context"
	"sync"
	"time"
)

// Source kinds, as --stats-source names them.
const (
	SourceAuto   = "auto"
	SourceEngine = "engine"
	SourceCgroup = "cgroup"
)

// ParseSource checks a --stats-source value.
func ParseSource(s string) (string, error) {
	switch s {
	case SourceAuto, SourceEngine, SourceCgroup:
		return s, nil
	case "":
		return SourceAuto, nil
	}
	return "", &sourceError{s}
}

type sourceError struct{ s string }

func (e *sourceError) Error() string {
	return "stats source " + e.s + ": want auto, engine or cgroup"
}

// key names a container across engines.
type key struct{ host, id string }

// source collects one container's samples for every subscriber: there is
// at most one per container, so the engine (or the cgroup files) is asked
// once whatever the number of clients. It runs until the collector stops
// it: the container died, or nobody watched it for the grace period.
type source struct {
	key    key
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	kind    string // the source picked: SourceEngine or SourceCgroup, once known
	usage   Usage
	has     bool
	reading Reading                     // the engine source's latest reading, for the sampler
	wanted  map[time.Duration]time.Time // interval → when last asked for
	touched time.Time
	changed chan struct{} // closed and replaced when the finest wanted interval shrinks
}

func newSource(k key, cancel context.CancelFunc) *source {
	return &source{key: k, cancel: cancel, done: make(chan struct{}),
		wanted: map[time.Duration]time.Time{}, changed: make(chan struct{})}
}

// touch records that someone wants samples every d. A finer interval than
// the current one wakes the sampler so it adopts it at once.
func (s *source) touch(d time.Duration, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.intervalLocked(now)
	s.wanted[d] = now
	s.touched = now
	if d < before {
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// idle reports whether nobody asked for samples since before.
func (s *source) idle(before time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touched.Before(before)
}

// interval is the finest interval asked for recently: an interval nobody
// asked for in three of its periods (and at least two seconds) is
// forgotten, so a source relaxes when its fastest watcher leaves.
func (s *source) interval(now time.Time) (time.Duration, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.intervalLocked(now), s.changed
}

func (s *source) intervalLocked(now time.Time) time.Duration {
	best := time.Duration(0)
	for d, at := range s.wanted {
		if now.Sub(at) > max(3*d, 2*time.Second) {
			delete(s.wanted, d)
			continue
		}
		if best == 0 || d < best {
			best = d
		}
	}
	if best == 0 {
		best = DefaultInterval
	}
	return best
}

// set stores a new sample.
func (s *source) set(u Usage) {
	s.mu.Lock()
	s.usage, s.has = u, true
	s.mu.Unlock()
}

// observe keeps the engine source's latest reading, so the sampler can
// take it instead of asking the engine again.
func (s *source) observe(r Reading) {
	s.mu.Lock()
	s.reading = r
	s.mu.Unlock()
}

// setKind records which source was picked.
func (s *source) setKind(kind string) {
	s.mu.Lock()
	s.kind = kind
	s.mu.Unlock()
}

// latest returns the newest sample, if any yet.
func (s *source) latest() (Usage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage, s.has
}

// stop ends the source without waiting, so it may be called while the
// collector's lock is held; Collector.Run waits for every goroutine.
func (s *source) stop() { s.cancel() }
