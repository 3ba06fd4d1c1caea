package stacks

import (
	"context"
	"fmt"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Actions accepted by Act, as the REST paths name them.
const (
	Deploy  = "deploy"
	Start   = "start"
	Stop    = "stop"
	Restart = "restart"
	Pull    = "pull"
	Remove  = "remove"
)

// worker runs one stack's actions, one at a time, on its own goroutine.
// busy is set (under Manager.mu) from the moment an action is accepted
// until it has finished, so a second one is refused rather than queued:
// a user clicking "stop" during a deploy should learn it did not happen.
type worker struct {
	id   int64
	jobs chan string // capacity 1; busy guarantees it is empty when sent to
	busy bool
}

// Act starts action on a stack in the background and returns its record as
// the action begins (status pending). It is ErrNotFound for no such stack,
// ErrBusy while another action runs on it, ErrInvalid for an unknown
// action. Progress and outcome go to the /stacks socket.
func (m *Manager) Act(ctx context.Context, id int64, action string) (_ wire.Stack, err error) {
	word, ok := actionWords[action]
	if !ok {
		return wire.Stack{}, invalid("unknown action %q (deploy, start, stop, restart, pull)", action)
	}
	if _, err := m.record(ctx, id); err != nil {
		return wire.Stack{}, err
	}
	w, err := m.acquire(id)
	if err != nil {
		return wire.Stack{}, err
	}
	st, err := m.opts.Records.Update(ctx, id, func(s *wire.Stack) error {
		s.Status, s.Action = wire.StackPending, word
		return nil
	})
	if err != nil {
		m.release(w)
		return wire.Stack{}, fmt.Errorf("marking stack %d %s: %w", id, word, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		w.busy = false
		return wire.Stack{}, ErrClosed
	}
	w.jobs <- action
	return st, nil
}

// acquire marks a stack's worker busy, starting the worker if needed.
func (m *Manager) acquire(id int64) (*worker, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	w, ok := m.workers[id]
	if !ok {
		w = &worker{id: id, jobs: make(chan string, 1)}
		m.workers[id] = w
		m.wg.Add(1)
		go m.runWorker(w)
	}
	if w.busy {
		return nil, fmt.Errorf("%w (%d)", ErrBusy, id)
	}
	w.busy = true
	return w, nil
}

// release lets the stack take another action.
func (m *Manager) release(w *worker) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.busy = false
}

// busy reports whether an action runs on the stack.
func (m *Manager) busy(id int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.workers[id]
	return ok && w.busy
}

// runWorker performs the stack's actions until its channel is closed
// (Close) or the stack is removed.
func (m *Manager) runWorker(w *worker) {
	defer m.wg.Done()
	for action := range w.jobs {
		removed := m.perform(w.id, action)
		m.mu.Lock()
		w.busy = false
		if removed {
			delete(m.workers, w.id)
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
	}
}
