package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Exec session timings and limits.
const (
	// execWriteTimeout bounds sending one chunk of output: a client that
	// reads nothing for that long is closed, and its process with it, so a
	// stalled viewer holds no more than the socket's buffers.
	execWriteTimeout = 10 * time.Second
	// execChunk is the most output read from the engine, and sent, at once.
	execChunk = 32 << 10
	// execReadLimit bounds one client message: a large paste is one.
	execReadLimit = 1 << 20
	// execExitWait bounds waiting for the engine to report the exit code
	// once the terminal has closed.
	execExitWait = 5 * time.Second
	// maxTermSize bounds the columns and rows of a resize.
	maxTermSize = 10_000
	// execPingEvery and execPingTimeout are every socket's keep-alive
	// (stream.Socket's): a client that answers no ping in time is gone.
	execPingEvery   = 30 * time.Second
	execPingTimeout = 10 * time.Second
)

// execStart is what to run, and where.
type execStart struct {
	container  string // full ID
	cmd        []string
	user       string
	workdir    string
	cols, rows uint // initial terminal size; 0: the engine's default
}

// execSession bridges one websocket and one exec process's terminal.
type execSession struct {
	conn      *websocket.Conn
	cli       *client.Client
	container string // full ID
	// marker is in the environment of the session's processes, so that
	// hangUp finds them all: CROWSNEST_EXEC=<random>.
	marker string
	idle   time.Duration // 0: no idle timeout
	log    *slog.Logger
	last   atomic.Int64 // Unix nanoseconds of the last input or output
}

// How a session ended.
type endKind int

const (
	endExited     endKind = iota // the process exited: its terminal closed
	endClientGone                // the client closed the socket or stopped answering
	endTooSlow                   // the client read no output for execWriteTimeout
	endIdle                      // neither input nor output for the idle timeout
	endFailed                    // the engine or the client broke the protocol
)

// execEnd is why a session ended and the process's exit code (nil when
// it is unknown: the process was still running when the session was cut).
type execEnd struct {
	kind   endKind
	reason string
	code   *int
}

// serve creates the exec process, calls started (which records the session;
// its error stops the process from running), attaches to its terminal and
// carries it until one side ends, then closes the socket with a code that
// says why. It returns how the session ended.
func (x *execSession) serve(ctx context.Context, started func(context.Context) error, st execStart) execEnd {
	x.container, x.marker = st.container, "CROWSNEST_EXEC="+rand.Text()
	cctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	created, err := x.cli.ExecCreate(cctx, st.container, client.ExecCreateOptions{
		TTY: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
		Cmd: st.cmd, User: st.user, WorkingDir: st.workdir, Env: []string{"TERM=xterm-256color", x.marker},
		ConsoleSize: client.ConsoleSize{Height: st.rows, Width: st.cols},
	})
	if err != nil {
		return x.refuse(fmt.Sprintf("cannot create the exec process: %v", err))
	}
	if err := started(cctx); err != nil {
		return x.refuse(err.Error())
	}
	hj, err := x.cli.ExecAttach(cctx, created.ID, client.ExecAttachOptions{
		TTY: true, ConsoleSize: client.ConsoleSize{Height: st.rows, Width: st.cols},
	})
	if err != nil {
		return x.refuse(fmt.Sprintf("cannot start the exec process: %v", err))
	}
	cancel()
	return x.carry(ctx, created.ID, hj.HijackedResponse)
}

// refuse closes a socket whose process could not start.
func (x *execSession) refuse(reason string) execEnd {
	x.conn.Close(websocket.StatusInternalError, closeReason(reason))
	return execEnd{kind: endFailed, reason: reason}
}

// carry runs the session's three loops (output, input, watchdog) until
// the first ends, then closes the socket and the terminal. Closing the
// terminal hangs it up: a shell gets SIGHUP and exits, so no process
// outlives its session.
func (x *execSession) carry(ctx context.Context, execID string, hj client.HijackedResponse) execEnd {
	x.touch()
	ctx, cancel := context.WithCancel(ctx)
	ends := make(chan execEnd, 3)
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context) execEnd{
		func(ctx context.Context) execEnd { return x.output(ctx, hj) },
		func(ctx context.Context) execEnd { return x.input(ctx, execID, hj) },
		x.watchdog,
	} {
		wg.Go(func() { ends <- loop(ctx) })
	}
	end := <-ends
	if end.kind == endExited {
		end.code = x.exitCode(execID)
		x.sendExit(end.code)
	}
	switch end.kind {
	case endExited:
		x.conn.Close(websocket.StatusNormalClosure, "process exited")
	case endIdle:
		x.conn.Close(websocket.StatusGoingAway, closeReason(end.reason))
	case endFailed:
		x.conn.Close(websocket.StatusInternalError, closeReason(end.reason))
	default: // a client that left or reads nothing gets no close handshake
		x.conn.CloseNow()
	}
	cancel()
	hj.Close()
	wg.Wait()
	if end.code == nil {
		end.code = x.hangUp(execID)
	}
	return end
}

// hangUp ends the process of a session that was cut, and every process it
// started, and returns its exit code (nil if it outlived even SIGKILL's
// wait). Closing the attach connection is not enough: the engine keeps the
// terminal open, so a shell at its prompt would wait for input for ever.
// The session's processes are found by the marker in their environment,
// which children inherit, and sent SIGHUP, as a closed terminal would,
// then SIGKILL if they are still there.
func (x *execSession) hangUp(execID string) *int {
	for _, sig := range []string{"HUP", "KILL"} {
		if err := x.signal(sig); err != nil {
			x.log.Warn("hanging up an exec session failed", "signal", sig, "err", err)
			return x.exitCode(execID)
		}
		if code := x.exitCode(execID); code != nil {
			return code
		}
	}
	return nil
}

// signal sends sig to the session's processes, by a script run in the
// container (the engine API can signal a container, not a process in it).
func (x *execSession) signal(sig string) error {
	ctx, cancel := context.WithTimeout(context.Background(), execExitWait)
	defer cancel()
	script := `for p in /proc/[0-9]*; do if grep -qs "` + x.marker + `" "$p/environ"; then kill -` + sig + ` "${p#/proc/}"; fi; done`
	created, err := x.cli.ExecCreate(ctx, x.container, client.ExecCreateOptions{Cmd: []string{"sh", "-c", script}})
	if err != nil {
		return fmt.Errorf("creating the kill process: %w", err)
	}
	if _, err := x.cli.ExecStart(ctx, created.ID, client.ExecStartOptions{Detach: true}); err != nil {
		return fmt.Errorf("starting the kill process: %w", err)
	}
	if x.exitCode(created.ID) == nil {
		return errors.New("the kill process did not finish")
	}
	return nil
}

// touch marks input or output now.
func (x *execSession) touch() { x.last.Store(time.Now().UnixNano()) }

// output sends the terminal's bytes to the client as binary frames, one
// chunk at a time: while the client is slow the engine is not read, so the
// process waits on its terminal rather than crowsnest buffering its output.
func (x *execSession) output(ctx context.Context, hj client.HijackedResponse) execEnd {
	buf := make([]byte, execChunk)
	for {
		n, err := hj.Reader.Read(buf)
		if n > 0 {
			x.touch()
			wctx, cancel := context.WithTimeout(ctx, execWriteTimeout)
			werr := x.conn.Write(wctx, websocket.MessageBinary, buf[:n])
			cancel()
			switch {
			case werr == nil:
			case ctx.Err() != nil:
				return execEnd{kind: endClientGone, reason: "session closed"}
			case errors.Is(werr, context.DeadlineExceeded):
				return execEnd{kind: endTooSlow, reason: fmt.Sprintf("client read no output for %v", execWriteTimeout)}
			default:
				return execEnd{kind: endClientGone, reason: "client gone"}
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			return execEnd{kind: endExited, reason: "process exited"}
		case err != nil && ctx.Err() != nil:
			return execEnd{kind: endClientGone, reason: "session closed"}
		case err != nil:
			return execEnd{kind: endFailed, reason: fmt.Sprintf("reading the terminal: %v", err)}
		}
	}
}

// input carries the client's frames: binary ones are typed into the
// terminal, text ones are resize requests.
func (x *execSession) input(ctx context.Context, execID string, hj client.HijackedResponse) execEnd {
	x.conn.SetReadLimit(execReadLimit)
	for {
		typ, r, err := x.conn.Reader(ctx)
		if err != nil {
			return execEnd{kind: endClientGone, reason: "client gone"}
		}
		x.touch()
		if typ == websocket.MessageBinary {
			if _, err := io.Copy(hj.Conn, r); err != nil {
				if ctx.Err() != nil {
					return execEnd{kind: endClientGone, reason: "session closed"}
				}
				return execEnd{kind: endFailed, reason: fmt.Sprintf("writing to the terminal: %v", err)}
			}
			continue
		}
		var f wire.ExecFrame
		if err := json.NewDecoder(r).Decode(&f); err != nil || f.Type != "resize" ||
			f.Cols == 0 || f.Rows == 0 || f.Cols > maxTermSize || f.Rows > maxTermSize {
			return execEnd{kind: endFailed, reason: `bad text frame: want {"type":"resize","cols":C,"rows":R}`}
		}
		rctx, cancel := context.WithTimeout(ctx, inspectTimeout)
		_, err = x.cli.ExecResize(rctx, execID, client.ExecResizeOptions{Height: f.Rows, Width: f.Cols})
		cancel()
		if err != nil && ctx.Err() == nil {
			// The terminal keeps its size; the session goes on.
			x.log.Debug("resizing an exec terminal failed", "err", err)
		}
	}
}

// watchdog pings the client, as every socket does, and ends a session
// that has been idle for x.idle.
func (x *execSession) watchdog(ctx context.Context) execEnd {
	tick := execPingEvery
	if x.idle > 0 {
		tick = min(tick, max(x.idle/4, 10*time.Millisecond))
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-ctx.Done():
			return execEnd{kind: endClientGone, reason: "session closed"}
		case now := <-t.C:
			if x.idle > 0 && now.Sub(time.Unix(0, x.last.Load())) >= x.idle {
				return execEnd{kind: endIdle, reason: fmt.Sprintf("idle for %v: session ended", x.idle)}
			}
			if now.Sub(lastPing) < execPingEvery {
				continue
			}
			lastPing = now
			pctx, cancel := context.WithTimeout(ctx, execPingTimeout)
			err := x.conn.Ping(pctx)
			cancel()
			if err != nil {
				return execEnd{kind: endClientGone, reason: "client stopped answering pings"}
			}
		}
	}
}

// exitCode waits, up to execExitWait, for the engine to report that the
// process has exited, and returns its code; nil if it did not in time.
func (x *execSession) exitCode(execID string) *int {
	ctx, cancel := context.WithTimeout(context.Background(), execExitWait)
	defer cancel()
	for {
		res, err := x.cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err == nil && !res.Running {
			return &res.ExitCode
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sendExit tells the client the exit code, before the close.
func (x *execSession) sendExit(code *int) {
	b, err := json.Marshal(wire.ExecFrame{Type: "exit", Code: code})
	if err != nil {
		return // a fixed struct of ints always encodes
	}
	ctx, cancel := context.WithTimeout(context.Background(), execWriteTimeout)
	defer cancel()
	_ = x.conn.Write(ctx, websocket.MessageText, b) // the close that follows tells a client that missed it
}

// closeReason trims a reason to the 123 bytes a close frame can carry.
func closeReason(s string) string {
	if len(s) > 123 {
		return s[:123]
	}
	return s
}
