package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/coder/websocket"
	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// The terminal's assets: xterm.js bundled with its fit addon (make wasm),
// and its stylesheet, loaded the first time a terminal opens.
const (
	xtermScript = "/web/xterm.js"
	xtermStyle  = "/web/xterm.css"
)

// terminalState is where a terminal session is.
type terminalState int

const (
	termLoading terminalState = iota // loading xterm.js or opening the socket
	termLive                         // the shell runs
	termEnded                        // the socket closed: a new session needs a click
)

// terminal is the container page's Terminal tab: xterm.js on an exec
// socket. A session that ends stays ended, saying so and with what exit
// code, until the user asks for a new one: nothing starts a shell behind
// their back.
type terminal struct {
	app.Compo

	Host, ID string
	Shown    bool // the tab shows: the panel has a size to fit

	host, id string      // of the session opened
	session  int         // counts the sessions opened, so a late end finds its own
	mounted  app.Context // OnMount's: a click's context ends with its handler
	state    terminalState
	status   string // what the header line says
	term     app.Value
	conn     *websocket.Conn
	cancel   context.CancelFunc
	funcs    []app.Func // the callbacks handed to xterm, released with it
}

// OnMount loads xterm.js unless a terminal already did, then opens a session.
func (t *terminal) OnMount(ctx app.Context) {
	t.mounted = ctx
	if app.Window().Get("Terminal").Truthy() {
		t.start(ctx)
		return
	}
	doc := app.Window().Get("document")
	link := doc.Call("createElement", "link")
	link.Set("rel", "stylesheet")
	link.Set("href", xtermStyle)
	doc.Get("head").Call("appendChild", link)
	script := doc.Call("createElement", "script")
	script.Set("src", xtermScript)
	loaded := app.FuncOf(func(app.Value, []app.Value) any {
		ctx.Dispatch(t.start)
		return nil
	})
	failed := app.FuncOf(func(app.Value, []app.Value) any {
		ctx.Dispatch(func(app.Context) { t.end("the terminal could not load " + xtermScript) })
		return nil
	})
	t.funcs = append(t.funcs, loaded, failed)
	script.Set("onload", loaded)
	script.Set("onerror", failed)
	doc.Get("head").Call("appendChild", script)
}

// OnUpdate follows the page: shown again, the terminal fits its panel
// (hidden, it had none); on another container it starts over.
func (t *terminal) OnUpdate(ctx app.Context) {
	if t.term != nil && (t.Host != t.host || t.ID != t.id) {
		t.start(ctx)
		return
	}
	if t.Shown {
		ctx.Defer(func(app.Context) {
			t.fit()
			if t.term != nil && t.state == termLive {
				t.term.Call("focus")
			}
		})
	}
}

// OnDismount ends the session with the page.
func (t *terminal) OnDismount() { t.close() }

// OnResize fits the terminal to its panel, which tells the shell (resize).
func (t *terminal) OnResize(app.Context) { t.fit() }

// fit sizes the terminal to its element, when it is shown.
func (t *terminal) fit() {
	if t.term != nil && t.term.Truthy() {
		t.term.Call("fit")
	}
}

// start opens a new terminal and its session.
func (t *terminal) start(app.Context) {
	ctx := t.mounted
	t.close()
	el := app.Window().GetElementByID("terminal-screen")
	if !el.Truthy() || !app.Window().Get("Terminal").Truthy() {
		return
	}
	el.Set("innerHTML", "")
	t.term = app.Window().Get("Terminal").New(map[string]any{
		"cursorBlink":  true,
		"fontFamily":   `ui-monospace, "Cascadia Mono", "DejaVu Sans Mono", Menlo, monospace`,
		"fontSize":     13,
		"lineHeight":   1.15,
		"scrollback":   5000,
		"rendererType": "dom", // text in the page: readable by assistive tools and tests
		"theme": map[string]any{
			"background": "#0b1424", "foreground": "#d8e3f0", "cursor": "#7cc4ff",
			"selection": "rgba(124, 196, 255, 0.35)",
			"black":     "#1b2638", "red": "#ff7b72", "green": "#7ee787", "yellow": "#e3b341",
			"blue": "#79c0ff", "magenta": "#d2a8ff", "cyan": "#76e3ea", "white": "#d8e3f0",
			"brightBlack": "#6e7f96", "brightRed": "#ffa198", "brightGreen": "#aff5b4",
			"brightYellow": "#f8e3a1", "brightBlue": "#a5d6ff", "brightMagenta": "#e2c5ff",
			"brightCyan": "#b3f0ff", "brightWhite": "#ffffff",
		},
	})
	t.term.Call("open", el)
	t.fit()
	t.term.Call("focus")
	t.state, t.status = termLoading, "Connecting…"

	// Not under ctx: a click's context ends with its handler, and the
	// session lasts until close.
	sctx, cancel := context.WithCancel(context.Background())
	t.cancel, t.host, t.id = cancel, t.Host, t.ID
	t.session++
	session := t.session
	term := t.term
	cols, rows := term.Get("cols").Int(), term.Get("rows").Int()
	q := containerQuery(t.Host)
	q.Set("cols", strconv.Itoa(cols))
	q.Set("rows", strconv.Itoa(rows))
	target := containerPath(t.ID, "/exec/ws", q)
	ctx.Async(func() {
		conn, _, err := websocket.Dial(sctx, wsURL(target), nil)
		if err != nil {
			ctx.Dispatch(func(app.Context) {
				if sctx.Err() == nil {
					t.end("Could not open a session: the server refused it (is the container running?)")
				}
			})
			return
		}
		conn.SetReadLimit(1 << 20)
		ctx.Dispatch(func(app.Context) {
			if sctx.Err() != nil {
				conn.CloseNow()
				return
			}
			t.conn, t.state, t.status = conn, termLive, "Connected"
			t.wire(sctx, term, conn)
		})
		t.read(ctx, sctx, term, conn, session)
	})
}

// termFrame is one message for the socket.
type termFrame struct {
	typ  websocket.MessageType
	data []byte
}

// termQueue bounds the frames waiting to be sent: a paste is one, so only
// a socket that stopped taking them fills it.
const termQueue = 1024

// wire sends what the user types or pastes (xterm handles the browser's
// paste event and its own selection's copy), and the terminal's new size,
// to the socket, in order, from one writer.
func (t *terminal) wire(ctx context.Context, term app.Value, conn *websocket.Conn) {
	out := make(chan termFrame, termQueue)
	send := func(f termFrame) {
		select {
		case out <- f:
		default: // the socket is stuck; read will report its end
		}
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-out:
				if conn.Write(ctx, f.typ, f.data) != nil {
					return // the socket ended: read reports it
				}
			}
		}
	}()
	onData := app.FuncOf(func(_ app.Value, args []app.Value) any {
		send(termFrame{websocket.MessageBinary, []byte(args[0].String())})
		return nil
	})
	onResize := app.FuncOf(func(_ app.Value, args []app.Value) any {
		f, err := json.Marshal(wire.ExecFrame{Type: "resize", Cols: uint(args[0].Get("cols").Int()), Rows: uint(args[0].Get("rows").Int())})
		if err == nil {
			send(termFrame{websocket.MessageText, f})
		}
		return nil
	})
	t.funcs = append(t.funcs, onData, onResize)
	term.Call("on", "data", onData)
	term.Call("on", "resize", onResize)
}

// read writes the socket's output to the terminal until it closes, then
// ends the session with the exit code it got.
func (t *terminal) read(ctx app.Context, sctx context.Context, term app.Value, conn *websocket.Conn, session int) {
	decoder := app.Window().Get("TextDecoder").New()
	streaming := map[string]any{"stream": true}
	var exit *int
	var err error
	for {
		var typ websocket.MessageType
		var data []byte
		typ, data, err = conn.Read(sctx)
		if err != nil {
			break
		}
		if typ == websocket.MessageText {
			var f wire.ExecFrame
			if json.Unmarshal(data, &f) == nil && f.Type == "exit" {
				exit = f.Code
			}
			continue
		}
		buf := app.Window().Get("Uint8Array").New(len(data))
		app.CopyBytesToJS(buf, data)
		term.Call("write", decoder.Call("decode", buf, streaming))
	}
	if sctx.Err() != nil {
		return // closed by the page
	}
	msg := "Session ended"
	switch {
	case exit != nil:
		msg += " · exit code " + strconv.Itoa(*exit)
	case websocket.CloseStatus(err) != -1:
		if reason := closeReasonOf(err); reason != "" {
			msg += ": " + reason
		}
	default:
		msg += ": the connection was lost"
	}
	ctx.Dispatch(func(app.Context) {
		if t.session == session {
			t.end(msg)
		}
	})
}

// closeReasonOf is the reason of the close frame that ended a socket.
func closeReasonOf(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

// end marks the session ended: the terminal says so and takes no more
// input, and the header offers a new session.
func (t *terminal) end(msg string) {
	t.state, t.status = termEnded, msg
	if t.term != nil && t.term.Truthy() {
		t.term.Call("write", "\r\n\x1b[2m── "+msg+" ──\x1b[0m\r\n")
		t.term.Call("setOption", "disableStdin", true)
		t.term.Call("setOption", "cursorBlink", false)
	}
	if t.conn != nil {
		t.conn.CloseNow()
		t.conn = nil
	}
}

// close ends the session and disposes of the terminal.
func (t *terminal) close() {
	if t.cancel != nil {
		t.cancel()
		t.cancel = nil
	}
	if t.conn != nil {
		t.conn.Close(websocket.StatusNormalClosure, "terminal closed")
		t.conn = nil
	}
	if t.term != nil && t.term.Truthy() {
		t.term.Call("dispose")
	}
	t.term = nil
	for _, f := range t.funcs {
		f.Release()
	}
	t.funcs = nil
}

// Render draws the panel: a header with the session's state (and, once it
// ended, the New session button) over the terminal itself.
func (t *terminal) Render() app.UI {
	dot := "term-dot term-dot-" + [...]string{"loading", "live", "ended"}[t.state]
	return app.Section().Class("card terminal-card").Aria("labelledby", "terminal-title").Body(
		app.Div().Class("terminal-head").Body(
			app.H2().ID("terminal-title").Text("Terminal"),
			app.Span().Class(dot).Aria("hidden", "true"),
			app.Span().ID("terminal-status").Role("status").Text(t.status),
			app.If(t.state == termEnded,
				app.Button().ID("terminal-new").Class("btn btn-primary").Text("New session").OnClick(func(ctx app.Context, e app.Event) {
					t.start(ctx)
				}),
			),
		),
		app.Div().ID("terminal-screen").Class("terminal-screen"),
	)
}
