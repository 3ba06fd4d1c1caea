package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// execEndpoint names the exec socket in the stream metrics.
const execEndpoint = "container_exec_ws"

// ExecOptions are the settings of the exec socket (a shell in a container).
type ExecOptions struct {
	// Disabled (--no-exec) turns the socket off: it answers 403.
	Disabled bool
	// IdleTimeout (--exec-idle-timeout) ends a session that had neither
	// input nor output for that long; 0 means never.
	IdleTimeout time.Duration
}

// shells are where a container's bash may be, tried in order when the
// request names no command; without one the session runs sh.
var shells = []string{"/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash"}

// defaultShell is the command of a session whose request names none.
const defaultShell = "/bin/sh"

// execRequest is a parsed exec socket request.
type execRequest struct {
	host    string
	ref     string // ID, ID prefix or name
	cmd     []string
	user    string
	workdir string
	// cols and rows are the terminal's initial size (0: the engine's
	// default), so the first prompt is drawn at the client's width.
	cols, rows uint
}

// parseExecRequest reads the parameters: host, cmd (repeated: one argument
// each; a single value is split at spaces), user, workdir, cols and rows.
func parseExecRequest(r *http.Request) (execRequest, error) {
	q := r.URL.Query()
	req := execRequest{host: q.Get("host"), ref: r.PathValue("id"), user: q.Get("user"), workdir: q.Get("workdir")}
	if req.host == "" {
		req.host = docker.DefaultHostName
	}
	if strings.TrimSpace(req.ref) == "" {
		return req, errors.New("container: empty ID or name")
	}
	switch cmd := q["cmd"]; len(cmd) {
	case 0:
	case 1:
		req.cmd = strings.Fields(cmd[0])
		if len(req.cmd) == 0 {
			return req, errors.New("cmd: empty command")
		}
	default:
		req.cmd = cmd
	}
	for _, p := range []struct {
		name string
		to   *uint
	}{{"cols", &req.cols}, {"rows", &req.rows}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 || n > maxTermSize {
			return req, fmt.Errorf("%s: %q is not a number from 1 to %d", p.name, v, maxTermSize)
		}
		*p.to = uint(n)
	}
	if req.workdir != "" && !strings.HasPrefix(req.workdir, "/") {
		return req, fmt.Errorf("workdir: %q is not an absolute path", req.workdir)
	}
	return req, nil
}

// handleExecWS runs a command, a shell by default, in a running container
// on a terminal the socket carries: binary frames are the terminal's bytes
// both ways, a text frame {"type":"resize"} resizes it, and when the
// process exits its code comes as {"type":"exit"} before a normal close.
// Each session is recorded as exec events (recordExec); what is typed and
// printed is not. Nothing runs in the container until the socket is open.
func (s *Server) handleExecWS(w http.ResponseWriter, r *http.Request) {
	const op = "opening a shell"
	if s.exec.Disabled {
		s.fail(w, r, op, forbidden(errors.New("exec is turned off on this server (--no-exec)")))
		return
	}
	req, err := parseExecRequest(r)
	if err != nil {
		s.fail(w, r, op, invalid(err))
		return
	}
	cli, err := s.engines.Client(req.host)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	ictx, cancel := context.WithTimeout(r.Context(), inspectTimeout)
	defer cancel()
	info, err := cli.ContainerInspect(ictx, req.ref, client.ContainerInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		s.fail(w, r, op, notFound(fmt.Errorf("no such container on %s: %s", req.host, req.ref)))
		return
	case err != nil:
		s.fail(w, r, op, fmt.Errorf("inspecting %s on %s: %w", req.ref, req.host, err))
		return
	}
	ctr := info.Container
	if ctr.State == nil || !ctr.State.Running {
		s.fail(w, r, op, conflict(fmt.Errorf("container %s is not running", strings.TrimPrefix(ctr.Name, "/"))))
		return
	}
	if req.cmd == nil {
		req.cmd = []string{findShell(ictx, cli, ctr.ID)}
	}
	rec := wire.ExecSession{
		Actor: s.auth.Actor(r), Container: strings.TrimPrefix(ctr.Name, "/"), ID: ctr.ID, Host: req.host,
		Command: req.cmd, User: req.user, Workdir: req.workdir,
	}
	conn, done, err := s.streams.Duplex(w, r, execEndpoint)
	if err != nil {
		return // Duplex has answered
	}
	defer done()
	x := &execSession{conn: conn, cli: cli, idle: s.exec.IdleTimeout, log: s.log}
	end := x.serve(r.Context(), func(ctx context.Context) error {
		rec.Start = time.Now()
		if err := s.recordExec(ctx, rec, wire.ExecStartTag); err != nil {
			rec.Start = time.Time{}
			return fmt.Errorf("the session cannot be recorded, so it does not start: %w", err)
		}
		return nil
	}, execStart{container: ctr.ID, cmd: req.cmd, user: req.user, workdir: req.workdir, cols: req.cols, rows: req.rows})
	if rec.Start.IsZero() {
		return // never started: nothing ran, nothing to record
	}
	t := time.Now()
	rec.End, rec.ExitCode, rec.Reason = &t, end.code, end.reason
	rec.Duration = t.Sub(rec.Start).Seconds()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), inspectTimeout)
	defer cancel()
	if err := s.recordExec(ctx, rec, wire.ExecEndTag); err != nil {
		s.log.Error("recording the end of an exec session failed", "container", rec.Container, "host", rec.Host, "err", err)
	}
}

// findShell is the container's bash when it has one, else sh.
func findShell(ctx context.Context, cli *client.Client, id string) string {
	for _, p := range shells {
		if _, err := cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: p}); err == nil {
			return p
		}
	}
	return defaultShell
}

// recordExec stores one event of an exec session, tagged with the
// container, host, phase (exec:start or exec:end) and actor, so a search by
// any of them finds it.
func (s *Server) recordExec(ctx context.Context, rec wire.ExecSession, phase string) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding the exec record: %w", err)
	}
	ts := rec.Start
	if rec.End != nil {
		ts = *rec.End
	}
	ev := wire.Event{
		Type:      wire.ExecEventType,
		Tags:      []string{"container:" + rec.Container, "host:" + rec.Host, phase, "actor:" + rec.Actor.Credential},
		Value:     v,
		Timestamp: ts,
	}
	if _, err := s.store.Append(ctx, ev); err != nil {
		return fmt.Errorf("recording the exec session: %w", err)
	}
	return nil
}
