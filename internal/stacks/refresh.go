package stacks

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// debounce gathers the container events of one burst (a deploy, a stop)
// into one status read per engine.
const debounce = 300 * time.Millisecond

// refreshTimeout bounds one status read of every engine.
const refreshTimeout = 30 * time.Second

// Observe hands the manager a container event; events of compose
// containers make their project's status be read again shortly. It never
// blocks: when too many are pending, a full refresh is due anyway.
func (m *Manager) Observe(ev wire.ContainerEvent) {
	name := ev.Actor.Attributes[api.ProjectLabel]
	if name == "" {
		return
	}
	m.touch(ev.Host, name)
}

// touch asks for a status read of one project.
func (m *Manager) touch(host, name string) {
	select {
	case m.dirty <- projectKey{host, name}:
	default:
	}
}

// Run resolves at once the stacks an earlier run left mid-action (to what
// the engine shows, or error), then keeps every status true: after the
// container events Observe is given, and every RefreshEvery in case one was
// missed. It returns when ctx ends or the manager is closed.
func (m *Manager) Run(ctx context.Context) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	defer m.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-m.ctx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	m.syncLogged(ctx, nil)
	tick := time.NewTicker(m.opts.RefreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			m.syncLogged(ctx, nil)
		case k := <-m.dirty:
			// Let the burst finish, then read each engine it touched once.
			touched := map[string]bool{k.host: true}
			t := time.NewTimer(debounce)
		drain:
			for {
				select {
				case k := <-m.dirty:
					touched[k.host] = true
				case <-t.C:
					break drain
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
			m.syncLogged(ctx, touched)
		}
	}
}

// syncLogged records the status of the stacks on the engines in hosts (nil:
// every engine), logging a failure. Only engines holding recorded stacks
// are read: an external stack's status is read when the stacks are listed,
// so an engine without records costs no listing here, however many there
// are.
func (m *Manager) syncLogged(ctx context.Context, hosts map[string]bool) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	recs, err := m.opts.Records.List(ctx)
	if err == nil {
		recorded := make(map[string]bool)
		for _, r := range recs {
			if hosts == nil || hosts[r.Host] {
				recorded[r.Host] = true
			}
		}
		if len(recorded) == 0 {
			return
		}
		_, err = m.sync(ctx, recorded)
	}
	if err != nil && ctx.Err() == nil {
		m.log.Warn("refreshing stack status", "err", err)
	}
}

// readState reads one stack's state from its engine.
func (m *Manager) readState(ctx context.Context, st wire.Stack) (engineState, error) {
	c, err := m.client(st.Host)
	if err != nil {
		return engineState{}, err
	}
	ctrs, err := listProjectContainers(ctx, c, st.Name)
	if err != nil {
		return engineState{}, err
	}
	return deriveState(m.declaredOf(ctx, st), ctrs), nil
}

// refreshOne reads one stack's state and records it.
func (m *Manager) refreshOne(ctx context.Context, st wire.Stack) error {
	state, err := m.readState(ctx, st)
	if err != nil {
		m.unreachable(ctx, st, err)
		return err
	}
	return m.apply(ctx, st.ID, state)
}

// sync reads every engine in hosts (nil: all) once, records each idle
// stack's state, and returns their external stacks: compose projects with
// no record. An engine
// that cannot be read keeps its stacks' last status, except that none is
// left "pending" by an earlier run.
func (m *Manager) sync(ctx context.Context, hosts map[string]bool) ([]wire.Stack, error) {
	recs, err := m.opts.Records.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing stacks: %w", err)
	}
	byHost := make(map[string][]wire.Stack)
	for _, r := range recs {
		byHost[r.Host] = append(byHost[r.Host], r)
	}
	var ext []wire.Stack
	for _, h := range m.opts.Engines.Hosts() {
		if hosts != nil && !hosts[h.Name] {
			continue
		}
		c, err := m.client(h.Name)
		var ctrs []container.Summary
		if err == nil {
			ctrs, err = listProjectContainers(ctx, c, "")
		}
		if err != nil {
			for _, r := range byHost[h.Name] {
				m.unreachable(ctx, r, err)
			}
			continue
		}
		projects := make(map[string][]container.Summary)
		for _, ctr := range ctrs {
			p := ctr.Labels[api.ProjectLabel]
			projects[p] = append(projects[p], ctr)
		}
		for _, r := range byHost[h.Name] {
			found := projects[r.Name]
			delete(projects, r.Name) // a recorded stack is never external, busy or not
			if m.busy(r.ID) {
				continue // its action reports its state
			}
			if err := m.apply(ctx, r.ID, deriveState(m.declaredOf(ctx, r), found)); err != nil {
				return nil, err
			}
		}
		for name, list := range projects {
			ext = append(ext, external(h.Name, name, list))
		}
	}
	sort.Slice(ext, func(i, j int) bool {
		if ext[i].Host != ext[j].Host {
			return ext[i].Host < ext[j].Host
		}
		return ext[i].Name < ext[j].Name
	})
	return ext, nil
}

// external describes a compose project found on an engine without a
// record: read-only, its services those its containers belong to.
func external(host, name string, ctrs []container.Summary) wire.Stack {
	state := deriveState(nil, ctrs)
	st := wire.Stack{Name: name, Host: host, Status: state.Status, Services: state.Services, External: true}
	for _, c := range ctrs {
		t := time.Unix(c.Created, 0).UTC()
		if st.Created.IsZero() || t.Before(st.Created) {
			st.Created = t
		}
		if t.After(st.Updated) {
			st.Updated = t
		}
	}
	return st
}

// apply records a state read from the engine on an idle stack and tells
// the socket when its status changed. A stack an earlier run left
// mid-action gets what the engine shows, or error when nothing of it
// exists; an error status stays until the stack has containers again.
func (m *Manager) apply(ctx context.Context, id int64, state engineState) error {
	var before string
	skipped := false
	st, err := m.opts.Records.Update(ctx, id, func(s *wire.Stack) error {
		before = s.Status
		if m.busy(id) {
			skipped = true // an action started meanwhile; it will settle the record
			return nil
		}
		status := state.Status
		if s.Action != "" || s.Status == wire.StackPending {
			if status == wire.StackCreated {
				status = wire.StackError
				s.Error = fmt.Sprintf("crowsnest stopped while %s the stack; nothing of it exists on the engine", orUnknown(s.Action))
			}
			s.Action = ""
		}
		if status == wire.StackCreated && s.Status == wire.StackError {
			status = wire.StackError
		}
		s.Status, s.Services = status, state.Services
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording stack %d status: %w", id, err)
	}
	if !skipped && st.Status != before {
		msg := statusMessage(engineState{Status: st.Status, Services: st.Services})
		if st.Status == wire.StackError && st.Error != "" {
			msg = st.Error
		}
		m.emitStatus(st, st.Status, msg)
	}
	return nil
}

// unreachable handles a stack whose engine cannot be read: its last status
// stays, but a stack an earlier run left pending becomes error, so nothing
// is ever stuck in pending; the next successful read corrects it.
func (m *Manager) unreachable(ctx context.Context, st wire.Stack, cause error) {
	if m.busy(st.ID) || (st.Status != wire.StackPending && st.Action == "") {
		return
	}
	updated, err := m.opts.Records.Update(ctx, st.ID, func(s *wire.Stack) error {
		if m.busy(st.ID) {
			return nil
		}
		s.Status, s.Action = wire.StackError, ""
		s.Error = "status unknown: " + cause.Error()
		return nil
	})
	if err != nil {
		m.log.Error("recording stack status", "stack", st.Name, "err", err)
		return
	}
	if updated.Status == wire.StackError {
		m.emitStatus(updated, wire.StackError, updated.Error)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "acting on"
	}
	return s
}
