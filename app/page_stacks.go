package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// progressLine is one line of the stacks page's live log.
type progressLine struct {
	at      time.Time
	stackID int64
	kind    string // the message type
	action  string
	status  string
	message string
}

// maxProgress is how many progress lines the page keeps.
const maxProgress = 500

// stacksPage is /stacks: the list, one stack's editor and actions
// (?id=N), the create form (?new=1), and the live progress log of the
// /stacks socket.
type stacksPage struct {
	app.Compo

	stacks   []wire.Stack
	listNote notice
	hosts    sharedHosts

	selected int64 // 0: none
	creating bool
	current  *wire.Stack
	form     wire.StackRequest
	editor   editor

	progress []progressLine
	incoming batch[progressLine]
	sockNote notice
	reload   reloader
}

// OnMount opens the socket and loads the list and hosts.
func (p *stacksPage) OnMount(ctx app.Context) {
	p.reload = newReloader()
	ctx.Async(func() { p.listLoop(ctx) })
	observeHosts(ctx, &p.hosts, hostsMaxAge)
	ctx.Async(func() {
		runWS(ctx, stream{
			name:   "stacks",
			target: func() string { return stacksSocket },
			onFrame: func(data []byte) {
				l, ok, err := decodeStackMessage(data)
				if err != nil {
					app.Logf("stacks: bad frame: %v", err)
					return
				}
				if !ok {
					return
				}
				if p.incoming.add(l) {
					ctx.After(100*time.Millisecond, p.flush)
				}
			},
			onNotice: func(n notice) { ctx.Dispatch(func(app.Context) { p.sockNote = n }) },
		})
	})
}

// decodeStackMessage reads one /stacks frame; ok is false for the greeting.
func decodeStackMessage(data []byte) (progressLine, bool, error) {
	var m struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return progressLine{}, false, err
	}
	if m.Type == "" {
		return progressLine{}, false, nil
	}
	var d struct {
		StackID   int64     `json:"stack_id"`
		Status    string    `json:"status"`
		Action    string    `json:"action"`
		Message   string    `json:"message"`
		Timestamp time.Time `json:"timestamp"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return progressLine{}, false, err
	}
	at := d.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	return progressLine{at: at, stackID: d.StackID, kind: m.Type, action: d.Action, status: d.Status, message: d.Message}, true, nil
}

// flush adds the arrived progress lines and refreshes the list, whose
// statuses they change.
func (p *stacksPage) flush(ctx app.Context) {
	in := p.incoming.take()
	refreshCurrent := false
	for _, l := range in {
		if l.kind == wire.StackStatusType {
			for i := range p.stacks {
				if p.stacks[i].ID == l.stackID {
					p.stacks[i].Status = l.status
				}
			}
			if l.stackID == p.selected && p.selected != 0 {
				refreshCurrent = true
			}
		}
	}
	if refreshCurrent {
		// The editor's record shows the services' states, which the
		// action just changed; the form keeps what the user typed.
		p.loadCurrent(ctx, p.selected, false)
	}
	p.progress = append(p.progress, in...)
	if over := len(p.progress) - maxProgress; over > 0 {
		p.progress = p.progress[over:]
	}
	p.reload.request()
	ctx.Defer(func(app.Context) {
		if v := app.Window().GetElementByID("stack-progress"); v.Truthy() {
			v.Set("scrollTop", v.Get("scrollHeight"))
		}
	})
}

// listLoop loads the list now, on request, and every 15 s.
func (p *stacksPage) listLoop(ctx app.Context) {
	for {
		list, err := apiStacks(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil && !isStatus(err, 404) {
			app.Logf("stacks: %v", err)
		}
		ctx.Dispatch(func(app.Context) {
			p.listNote = noticeOf(err)
			if err == nil {
				p.stacks = list
			}
		})
		if !p.reload.wait(ctx, 300*time.Millisecond) { // a burst of progress settles first
			return
		}
	}
}

// OnNav selects the stack (or the create form) the URL names.
func (p *stacksPage) OnNav(ctx app.Context) {
	q := ctx.Page().URL().Query()
	id, _ := strconv.ParseInt(q.Get("id"), 10, 64)
	p.selected, p.creating = id, q.Get("new") == "1"
	p.editor.err, p.editor.ok, p.current = "", "", nil
	p.form = wire.StackRequest{}
	if p.creating {
		p.form.Compose = "services:\n  web:\n    image: nginx:alpine\n"
	}
	if id == 0 {
		return
	}
	p.loadCurrent(ctx, id, true)
}

// loadCurrent reads stack id's record for the editor; withForm also puts
// its texts into the form (on selection, not on a refresh, which would
// overwrite what the user is editing).
func (p *stacksPage) loadCurrent(ctx app.Context, id int64, withForm bool) {
	ctx.Async(func() {
		st, err := apiStack(ctx, id)
		if ctx.Err() != nil {
			return
		}
		ctx.Dispatch(func(app.Context) {
			if p.selected != id {
				return // another stack was selected meanwhile
			}
			if err != nil {
				if withForm {
					p.editor.err = describeErr(err)
				}
				return
			}
			p.current = &st
			if withForm {
				p.form = wire.StackRequest{Name: st.Name, Host: st.Host, Compose: st.Compose, Env: st.Env}
			}
		})
	})
}

// send runs one REST call for the editor and shows its outcome under the
// form (see sendEditor).
func (p *stacksPage) send(ctx app.Context, method, path string, body any, done string, after func(app.Context, *wire.Stack)) {
	sendEditor(ctx, &p.editor, p.reload, method, path, body, done, after)
}

// Render draws the page.
func (p *stacksPage) Render() app.UI {
	return layout("stacks",
		app.Div().Class("section-head").Body(
			app.H1().Text("Stacks"),
			app.A().ID("stack-new").Class("btn btn-primary").Href(pathStacks+"?new=1").Text("New stack"),
		),
		noticeView("stacks-notice", p.listNote),
		noticeView("stacks-socket-notice", p.sockNote),
		app.Div().Class("split").Body(
			p.listView(),
			app.Div().Class("split-main").Body(
				p.editorView(),
				p.progressView(),
			),
		),
	)
}

func (p *stacksPage) listView() app.UI {
	return app.Div().Class("card stack-list").Body(
		app.Table().ID("stacks-table").Class("table").Body(
			app.Caption().Class("sr-only").Text("Compose stacks"),
			app.THead().Body(app.Tr().Body(
				app.Th().Scope("col").Text("Stack"),
				app.Th().Scope("col").Text("Status"),
				app.Th().Scope("col").Text("Services"),
			)),
			app.TBody().Body(app.Range(p.stacks).Slice(func(i int) app.UI {
				st := p.stacks[i]
				running, total := 0, len(st.Services)
				for _, s := range st.Services {
					if s.Running > 0 {
						running++
					}
				}
				name := app.UI(app.Span().Text(st.Name))
				if st.ID != 0 {
					name = app.A().Href(pathStacks + "?id=" + strconv.FormatInt(st.ID, 10)).Text(st.Name)
				}
				status := st.Status
				if st.Action != "" {
					status = st.Action
				}
				return app.Tr().DataSet("stack", st.Name).Class(selectedClass(st.ID != 0 && st.ID == p.selected)).Body(
					app.Td().Body(name, app.Div().Class("muted small").Text(st.Host+externalNote(st.External))),
					app.Td().Body(app.Span().Class(stateClass(status)).Text(status)),
					app.Td().Class("small").Text(strconv.Itoa(running)+" / "+strconv.Itoa(total)+" running"),
				)
			})),
		),
		app.If(len(p.stacks) == 0 && p.listNote.kind == noticeNone, app.P().Class("empty").Text("No stacks yet. Create one with New stack.")),
	)
}

func externalNote(ext bool) string {
	if ext {
		return " · external (read-only)"
	}
	return ""
}

func selectedClass(sel bool) string {
	if sel {
		return "selected"
	}
	return ""
}

// editorView is the create form or the selected stack's editor and actions.
func (p *stacksPage) editorView() app.UI {
	if !p.creating && p.selected == 0 {
		return app.Div().Class("card").Body(app.P().Class("muted").Text("Select a stack to edit, deploy or remove it, or create a new one."))
	}
	title := "New stack"
	if !p.creating {
		title = p.form.Name
	}
	return app.Form().ID("stack-form").Class("card").Aria("label", title).OnSubmit(func(ctx app.Context, e app.Event) {
		e.PreventDefault()
		if p.creating {
			p.send(ctx, http.MethodPost, apiStacksPath, p.form, "Stack created.", func(ctx app.Context, st *wire.Stack) {
				ctx.Navigate(pathStacks + "?id=" + strconv.FormatInt(st.ID, 10))
			})
			return
		}
		p.send(ctx, http.MethodPut, apiStackPath(p.selected), p.form, "Saved. Deploy to apply the changes.", nil)
	}).Body(
		app.H2().Text(title),
		// servicesView takes the record and draws nothing without one: the
		// record arrives after OnNav, and app.If evaluates its body eagerly,
		// so a body that dereferenced p.current panicked on every render in
		// between, which killed the app (go-app then released its click
		// and history handlers: "call to released function").
		servicesView(p.current),
		app.If(p.creating,
			app.Div().Class("filter-grid").Body(
				app.Div().Class("field").Body(
					app.Label().For("stack-name").Text("Name"),
					app.Input().Type("text").ID("stack-name").Class("input").Required(true).Pattern("[a-z0-9][a-z0-9_-]*").Placeholder("lowercase letters, digits, - and _").Value(p.form.Name).
						OnInput(func(ctx app.Context, e app.Event) { p.form.Name = ctx.JSSrc().Get("value").String() }),
				),
				app.Div().Class("field").Body(
					app.Label().For("stack-host").Text("Host"),
					app.Select().ID("stack-host").Class("input").OnChange(func(ctx app.Context, e app.Event) {
						p.form.Host = ctx.JSSrc().Get("value").String()
					}).Body(
						app.Option().Value("").Text("Default (Localhost)"),
						app.Range(p.hosts.list).Slice(func(i int) app.UI {
							name := p.hosts.list[i].Name
							return app.Option().Value(name).Selected(p.form.Host == name).Text(name)
						}),
					),
				),
			),
		),
		app.Div().Class("field").Body(
			app.Label().For("stack-compose").Text("compose.yaml"),
			app.Textarea().ID("stack-compose").Class("input code").Rows(16).Spellcheck(false).Text(p.form.Compose).
				OnInput(func(ctx app.Context, e app.Event) { p.form.Compose = ctx.JSSrc().Get("value").String() }),
		),
		app.Div().Class("field").Body(
			app.Label().For("stack-env").Text(".env (optional)"),
			app.Textarea().ID("stack-env").Class("input code").Rows(3).Spellcheck(false).Placeholder("KEY=value").Text(p.form.Env).
				OnInput(func(ctx app.Context, e app.Event) { p.form.Env = ctx.JSSrc().Get("value").String() }),
		),
		app.If(p.editor.err != "", app.Pre().ID("stack-error").Class("notice notice-error").Role("alert").Text(p.editor.err)),
		app.If(p.editor.ok != "", app.P().ID("stack-ok").Class("notice notice-ok").Role("status").Text(p.editor.ok)),
		app.Div().Class("form-actions").Body(
			app.If(p.creating,
				app.Button().Type("submit").ID("stack-create").Class("btn btn-primary").Disabled(p.editor.busy).Text("Create"),
			).Else(
				app.Button().Type("submit").ID("stack-save").Class("btn").Disabled(p.editor.busy).Text("Save"),
				p.actionButton("deploy", "Deploy", "btn btn-primary"),
				p.actionButton("start", "Start", "btn"),
				p.actionButton("stop", "Stop", "btn"),
				p.actionButton("restart", "Restart", "btn"),
				p.actionButton("pull", "Pull images", "btn"),
				app.Button().Type("button").ID("stack-delete").Class("btn btn-danger").Disabled(p.editor.busy).Text("Delete").
					OnClick(func(ctx app.Context, e app.Event) {
						if !app.Window().Call("confirm", "Take down and delete the stack "+p.form.Name+"?").Bool() {
							return
						}
						p.send(ctx, http.MethodDelete, apiStackPath(p.selected), nil, "Removing…", nil)
					}),
			),
		),
	)
}

// actionButton posts one lifecycle action; progress appears in the log.
func (p *stacksPage) actionButton(action, label, class string) app.UI {
	return app.Button().Type("button").ID("stack-" + action).Class(class).Disabled(p.editor.busy).Text(label).
		OnClick(func(ctx app.Context, e app.Event) {
			p.send(ctx, http.MethodPost, apiStackActionPath(p.selected, action), nil, label+" started; progress below.", nil)
		})
}

// servicesView is a stack's state and services, or nothing while the
// record is not loaded.
func servicesView(st *wire.Stack) app.UI {
	if st == nil {
		return nil
	}
	return app.Div().Class("services").Body(
		app.P().Class("small muted").Body(
			app.Span().Class(stateClass(st.Status)).Text(st.Status),
			app.Text(" on "+st.Host+" · updated "+fmtAgo(st.Updated, time.Now())),
		),
		app.If(st.Error != "", app.P().Class("notice notice-error small").Text(st.Error)),
		app.Ul().Class("service-list").Body(app.Range(st.Services).Slice(func(i int) app.UI {
			s := st.Services[i]
			return app.Li().Body(
				app.Span().Class("strong").Text(s.Name),
				app.Span().Class(stateClass(s.State)).Text(s.State),
				app.Span().Class("muted small mono").Text(s.Image),
			)
		})),
	)
}

// progressView is the live log of stack actions: the selected stack's, or
// every stack's when none is selected.
func (p *stacksPage) progressView() app.UI {
	lines := p.progress
	if p.selected != 0 {
		lines = nil
		for _, l := range p.progress {
			if l.stackID == p.selected {
				lines = append(lines, l)
			}
		}
	}
	now := time.Now()
	return app.Section().Class("card").Aria("labelledby", "progress-title").Body(
		app.H2().ID("progress-title").Text("Progress"),
		app.Ol().ID("stack-progress").Class("progress-log").Role("log").Aria("live", "polite").Body(
			app.Range(lines).Slice(func(i int) app.UI {
				l := lines[i]
				word := l.action
				if l.kind == wire.StackStatusType {
					word = l.status
				}
				return app.Li().Class("pl pl-"+l.kind).DataSet("status", l.status).Body(
					app.Span().Class("ln-ts").Text(fmtClock(l.at, now)),
					app.Span().Class(stateClass(word)).Text(word),
					app.Span().Text(l.message),
				)
			}),
		),
		app.If(len(lines) == 0, app.P().Class("empty").Text("Deploy, start or stop a stack to see its progress here.")),
	)
}
