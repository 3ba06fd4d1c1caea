package stacks

import (
	"context"
	"errors"
	"fmt"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// actionWords maps an action to the word the socket's messages use.
var actionWords = map[string]string{
	Deploy:  wire.ActionDeploying,
	Start:   wire.ActionStarting,
	Stop:    wire.ActionStopping,
	Restart: wire.ActionRestarting,
	Pull:    wire.ActionPullingImages,
	Remove:  wire.ActionRemoving,
}

// pendingMessages is the stack-status pending message each action opens
// with; deploy's is the spec's own.
var pendingMessages = map[string]string{
	Deploy:  "Creating stack configuration",
	Start:   "Starting stack",
	Stop:    "Stopping stack",
	Restart: "Restarting stack",
	Pull:    "Pulling images",
	Remove:  "Removing stack",
}

// errorPhrases completes "Error while … stack", the spec's stack-error
// wording.
var errorPhrases = map[string]string{
	Deploy:  "deploying",
	Start:   "starting",
	Stop:    "stopping",
	Restart: "restarting",
	Pull:    "pulling images of",
	Remove:  "removing",
}

// doneMessages is the closing stack-status message of a successful action
// other than deploy and remove.
var doneMessages = map[string]string{
	Start:   "Stack started",
	Stop:    "Stack stopped",
	Restart: "Stack restarted",
	Pull:    "Images pulled",
}

// perform runs one action on the worker's goroutine and reports it on the
// socket: stack-status pending, stack-progress lines, then stack-error on
// failure and a closing stack-status (stack-removed after a removal). It
// reports whether the stack was removed. The action is cut short when lost
// is closed: its lease could not be renewed, so another replica may take
// the stack over.
func (m *Manager) perform(id int64, action string, lost <-chan struct{}) bool {
	ctx, cancel := context.WithTimeout(m.ctx, m.opts.ActionTimeout)
	defer cancel()
	go func() {
		select {
		case <-lost:
			cancel()
		case <-ctx.Done():
		}
	}()
	word := actionWords[action]
	st, err := m.record(ctx, id)
	if err != nil {
		m.log.Error("stack action on a missing record", "id", id, "action", action, "err", err)
		return false
	}
	log := m.log.With("stack", st.Name, "host", st.Host, "action", action)
	m.emitStatus(st, wire.StackPending, pendingMessages[action])
	prog := newProgress(func(line string) { m.emitProgress(st, word, line) })
	err = m.compose(ctx, st, action, prog)
	if m.ctx.Err() != nil {
		// Shutting down: the record keeps "pending" and its action, and
		// the next start reads the outcome from the engine.
		log.Warn("stack action cut short by shutdown", "err", newEnvScrubber(st.Env).error(err))
		return false
	}
	if err == nil && action == Remove {
		if err = m.forget(ctx, st); err == nil {
			m.emitRemoved(st)
			log.Info("stack removed")
			return true
		}
	}
	failure := ""
	if err != nil {
		scrub := newEnvScrubber(st.Env)
		failure = scrub.scrub(fmt.Sprintf("Error while %s stack %q: %s", errorPhrases[action], st.Name, prog.explain(err)))
		log.Warn("stack action failed", "err", scrub.error(err))
		m.emitError(st, word, failure)
	}
	final, state, rerr := m.settle(ctx, st, failure)
	if rerr != nil {
		log.Error("recording the outcome of a stack action", "err", rerr)
		return false
	}
	switch {
	case err == nil && action == Deploy:
		m.emitStatus(final, wire.StackDeployed, "Stack deployed successfully")
	case err == nil:
		m.emitStatus(final, final.Status, doneMessages[action])
	default:
		m.emitStatus(final, final.Status, statusMessage(state))
	}
	return false
}

// settle reads the stack's state from the engine after an action and
// writes the outcome into its record. A failure that leaves no container
// makes the status "error"; otherwise the status is what the engine shows.
func (m *Manager) settle(ctx context.Context, st wire.Stack, failure string) (wire.Stack, engineState, error) {
	state, serr := m.readState(ctx, st)
	if serr != nil {
		state = engineState{Status: wire.StackError}
		if failure == "" {
			failure = "status unknown: " + serr.Error()
		}
	}
	if failure != "" && state.Status == wire.StackCreated {
		state.Status = wire.StackError
	}
	final, err := m.opts.Records.Update(context.WithoutCancel(ctx), st.ID, func(s *wire.Stack) error {
		s.Action, s.Error, s.Status = "", failure, state.Status
		if serr == nil {
			s.Services = state.Services
		}
		return nil
	})
	return final, state, err
}

// forget deletes a removed stack's record and working directory.
func (m *Manager) forget(ctx context.Context, st wire.Stack) error {
	if err := m.opts.Records.Delete(context.WithoutCancel(ctx), st.ID); err != nil {
		return fmt.Errorf("deleting the record: %w", err)
	}
	m.setDeclared(st, nil)
	return m.removeDir(st.Host, st.Name)
}

// compose runs the action through the compose library, as `docker compose
// -p <name>` in the stack's directory would.
func (m *Manager) compose(ctx context.Context, st wire.Stack, action string, prog *progress) error {
	dc, err := m.dockerCli(st.Host)
	if err != nil {
		return err
	}
	svc, err := newService(dc, prog, m.log)
	if err != nil {
		return err
	}
	dir := m.dir(st.Host, st.Name)
	// The record is the truth: rewrite the files so a restored or damaged
	// data directory cannot deploy something else.
	if err := writeFiles(dir, st.Compose, st.Env); err != nil {
		return err
	}
	p, err := loadProject(ctx, dir, st.Name, m.opts.AllowHostPaths)
	if err != nil && action != Remove {
		return err
	}
	if p != nil {
		m.setDeclared(st, p.ServiceNames())
	}
	switch action {
	case Deploy:
		return svc.Up(ctx, p, api.UpOptions{
			Create: api.CreateOptions{
				RemoveOrphans:        true,
				Recreate:             api.RecreateDiverged,
				RecreateDependencies: api.RecreateDiverged,
				Inherit:              true,
			},
			Start: api.StartOptions{Project: p},
		})
	case Start:
		return svc.Start(ctx, st.Name, api.StartOptions{Project: p})
	case Stop:
		return svc.Stop(ctx, st.Name, api.StopOptions{Project: p})
	case Restart:
		return svc.Restart(ctx, st.Name, api.RestartOptions{Project: p})
	case Pull:
		return svc.Pull(ctx, p, api.PullOptions{})
	case Remove:
		// A file that no longer loads must not keep a stack from going:
		// without a project, compose finds the resources by their labels.
		var proj *types.Project
		if err == nil {
			proj = p
		}
		return svc.Down(ctx, st.Name, api.DownOptions{Project: proj, RemoveOrphans: true, Volumes: true})
	}
	return errors.New("unknown action " + action)
}
