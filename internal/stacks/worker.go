package stacks

import (
	"context"
	"errors"
	"fmt"

	"github.com/crowsnest-hq/crowsnest/internal/lease"
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
	jobs chan job // capacity 1; busy guarantees it is empty when sent to
	busy bool
}

// job is an accepted action and the lease that keeps other replicas off
// the stack while it runs.
type job struct {
	action string
	lease  *lease.Lease
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
	rec, err := m.record(ctx, id)
	if err != nil {
		return wire.Stack{}, err
	}
	w, err := m.acquire(id)
	if err != nil {
		return wire.Stack{}, err
	}
	ls, err := m.opts.Leases.Acquire(ctx, leaseName(rec))
	if err != nil {
		m.release(w)
		if errors.Is(err, lease.ErrHeld) {
			return wire.Stack{}, fmt.Errorf("%w: another crowsnest replica runs it (%w)", ErrBusy, err)
		}
		return wire.Stack{}, fmt.Errorf("stack %d: %w", id, err)
	}
	st, err := m.opts.Records.Update(ctx, id, func(s *wire.Stack) error {
		s.Status, s.Action = wire.StackPending, word
		return nil
	})
	if err != nil {
		ls.Release()
		m.release(w)
		return wire.Stack{}, fmt.Errorf("marking stack %d %s: %w", id, word, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		ls.Release()
		w.busy = false
		return wire.Stack{}, ErrClosed
	}
	w.jobs <- job{action: action, lease: ls}
	return st, nil
}

// leaseName names what replicas must not act on at once: the compose
// project on its engine, whatever each replica's record id for it.
func leaseName(st wire.Stack) string { return "stack/" + st.Host + "/" + st.Name }

// acquire marks a stack's worker busy, starting the worker if needed.
func (m *Manager) acquire(id int64) (*worker, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	w, ok := m.workers[id]
	if !ok {
		w = &worker{id: id, jobs: make(chan job, 1)}
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
	for j := range w.jobs {
		removed := m.perform(w.id, j.action, j.lease.Lost())
		j.lease.Release()
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
