package stacks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Create validates a new stack and stores it without deploying it (deploy
// is explicit). Input the loader refuses is ErrInvalid with its words, a
// name already used on the host is ErrExists, and in every such case
// nothing is stored or written. A refusal is also told on the socket as a
// stack-error with stack_id 0, since no record exists.
func (m *Manager) Create(ctx context.Context, req wire.StackRequest) (st wire.Stack, err error) {
	if req.Host == "" {
		req.Host = m.opts.DefaultHost
	}
	defer func() {
		if err != nil {
			ref := wire.Stack{Host: req.Host}
			if ValidName(req.Name) == nil {
				ref.Name = req.Name
			}
			m.emitError(ref, wire.ActionCreating, fmt.Sprintf("Error while creating stack %q: %v", req.Name, err))
		}
	}()
	if err := ValidName(req.Name); err != nil {
		return wire.Stack{}, err
	}
	if _, err := m.client(req.Host); err != nil {
		return wire.Stack{}, invalidError{err}
	}
	staging, declared, err := m.validate(ctx, req.Name, req.Compose, req.Env)
	if err != nil {
		return wire.Stack{}, err
	}
	defer func() { _ = os.RemoveAll(staging) }() // gone already once renamed into place
	st, err = m.opts.Records.Create(ctx, wire.Stack{
		Name: req.Name, Host: req.Host, Compose: req.Compose, Env: req.Env,
		Status: wire.StackCreated, Services: missing(declared),
	})
	if errors.Is(err, store.ErrStackExists) {
		return wire.Stack{}, fmt.Errorf("%w: %q on %s", ErrExists, req.Name, req.Host)
	}
	if err != nil {
		return wire.Stack{}, fmt.Errorf("storing the stack: %w", err)
	}
	dir := m.dir(req.Host, req.Name)
	if err := m.placeDir(staging, dir); err != nil {
		if derr := m.opts.Records.Delete(context.WithoutCancel(ctx), st.ID); derr != nil {
			err = errors.Join(err, derr)
		}
		return wire.Stack{}, err
	}
	m.setDeclared(st, declared)
	// A project of that name may already run (started with the CLI): the
	// record adopts it, and its status is read at once.
	m.touch(req.Host, req.Name)
	return st, nil
}

// validate writes the texts into a staging directory and loads them as
// compose would, returning the directory and the services declared.
func (m *Manager) validate(ctx context.Context, name, compose, env string) (string, []string, error) {
	if err := checkSize(compose, env); err != nil {
		return "", nil, err
	}
	if err := checkEnv(env); err != nil {
		return "", nil, err
	}
	if err := checkYAML(compose); err != nil {
		return "", nil, err
	}
	staging, err := stagingDir(m.root())
	if err != nil {
		return "", nil, err
	}
	if err := writeFiles(staging, compose, env); err != nil {
		_ = os.RemoveAll(staging) // the write error is the one to report
		return "", nil, err
	}
	p, err := loadProject(ctx, staging, name, m.opts.AllowHostPaths)
	if err != nil {
		_ = os.RemoveAll(staging) // the load error is the one to report
		return "", nil, newEnvScrubber(env).error(err)
	}
	return staging, p.ServiceNames(), nil
}

// placeDir makes staging the stack's working directory, replacing any
// leftover of an earlier stack of that name.
func (m *Manager) placeDir(staging, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return fmt.Errorf("stacks directory: %w", err)
	}
	if err := os.Rename(staging, dir); err != nil {
		return fmt.Errorf("placing the stack directory: %w", err)
	}
	return nil
}

// Replace swaps a stack's compose and env texts after validating them as
// Create does; the running stack is untouched until the next deploy. It is
// ErrBusy while an action runs.
func (m *Manager) Replace(ctx context.Context, id int64, req wire.StackRequest) (wire.Stack, error) {
	st, err := m.record(ctx, id)
	if err != nil {
		return wire.Stack{}, err
	}
	if (req.Name != "" && req.Name != st.Name) || (req.Host != "" && req.Host != st.Host) {
		return wire.Stack{}, invalid("name and host of a stack cannot change (they name its compose project)")
	}
	w, err := m.acquire(id)
	if err != nil {
		return wire.Stack{}, err
	}
	defer m.release(w)
	staging, declared, err := m.validate(ctx, st.Name, req.Compose, req.Env)
	if err != nil {
		return wire.Stack{}, err
	}
	defer func() { _ = os.RemoveAll(staging) }() // only a validated copy
	if err := writeFiles(m.dir(st.Host, st.Name), req.Compose, req.Env); err != nil {
		return wire.Stack{}, err
	}
	st, err = m.opts.Records.Update(ctx, id, func(s *wire.Stack) error {
		s.Compose, s.Env = req.Compose, req.Env
		return nil
	})
	if err != nil {
		return wire.Stack{}, fmt.Errorf("storing the stack: %w", err)
	}
	m.setDeclared(st, declared)
	return st, nil
}

// Get returns a stack with its status read from the engine now.
func (m *Manager) Get(ctx context.Context, id int64) (wire.Stack, error) {
	st, err := m.record(ctx, id)
	if err != nil {
		return wire.Stack{}, err
	}
	if !m.busy(id) {
		if err := m.refreshOne(ctx, st); err != nil {
			m.log.Debug("reading stack status", "stack", st.Name, "err", err)
		}
		if st, err = m.record(ctx, id); err != nil {
			return wire.Stack{}, err
		}
	}
	return st, nil
}

// List returns every stack with its status read from the engines now,
// followed by the external ones (compose projects crowsnest has no record
// of). Compose and env texts are left out.
func (m *Manager) List(ctx context.Context) ([]wire.Stack, error) {
	ext, err := m.sync(ctx, nil)
	if err != nil {
		return nil, err
	}
	recs, err := m.opts.Records.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing stacks: %w", err)
	}
	out := make([]wire.Stack, 0, len(recs)+len(ext))
	for _, s := range recs {
		s.Compose, s.Env = "", ""
		out = append(out, s)
	}
	return append(out, ext...), nil
}

// record reads a stack's record, ErrNotFound when there is none.
func (m *Manager) record(ctx context.Context, id int64) (wire.Stack, error) {
	st, err := m.opts.Records.Get(ctx, id)
	if errors.Is(err, store.ErrStackNotFound) {
		return wire.Stack{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return wire.Stack{}, fmt.Errorf("reading stack %d: %w", id, err)
	}
	return st, nil
}

// missing lists services as not (yet) having a container.
func missing(names []string) []wire.StackService {
	out := make([]wire.StackService, len(names))
	for i, n := range names {
		out[i] = wire.StackService{Name: n, State: "missing"}
	}
	return out
}

// declaredSet is what a stack's compose file declares, with the texts it
// was read from: a record changed through another replica (sharing the
// records on NATS) has other texts, and is read again.
type declaredSet struct {
	compose, env string
	names        []string
}

// setDeclared remembers the services st's compose file declares, so status
// reads need not load the file each time; nil names forget the stack.
func (m *Manager) setDeclared(st wire.Stack, names []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if names == nil {
		delete(m.declared, st.ID)
		return
	}
	m.declared[st.ID] = declaredSet{st.Compose, st.Env, names}
}

// declaredOf returns the services a stack declares, loading its compose
// text the first time and after it changed; nil (count whatever runs) when
// it does not load. The text is loaded from the record, not the stack's
// directory, which another replica's stack has only once it acted here.
func (m *Manager) declaredOf(ctx context.Context, st wire.Stack) []string {
	m.mu.Lock()
	d, ok := m.declared[st.ID]
	m.mu.Unlock()
	if ok && d.compose == st.Compose && d.env == st.Env {
		return d.names
	}
	staging, names, err := m.validate(ctx, st.Name, st.Compose, st.Env)
	if err != nil {
		m.log.Warn("stack compose file does not load; counting the services found on the engine", "stack", st.Name, "err", err)
		return nil
	}
	if err := os.RemoveAll(staging); err != nil {
		m.log.Warn("removing a staging directory", "dir", staging, "err", err)
	}
	m.setDeclared(st, names)
	return names
}
