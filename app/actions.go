package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// containerAction is a lifecycle action an admin may run on a container
// (apiContainerAction).
type containerAction struct {
	name  string // the API's action name; also the buttons' id part
	label string
	// confirm is the question asked before running, or "" to run at once:
	// stopping or restarting interrupts whatever the container serves, a
	// start interrupts nothing.
	confirm string
}

var (
	actionStart   = containerAction{name: "start", label: "Start"}
	actionStop    = containerAction{name: "stop", label: "Stop", confirm: "Stop %s? Whatever it serves goes down until it is started again."}
	actionRestart = containerAction{name: "restart", label: "Restart", confirm: "Restart %s? It is stopped and started again; what it serves is briefly down."}
)

// actionsFor is the actions that make sense in a container state: a
// running (or paused, or restarting) container can be stopped or
// restarted, any other one started.
func actionsFor(state string) []containerAction {
	switch state {
	case "running", "paused", "restarting":
		return []containerAction{actionStop, actionRestart}
	case "removing", "":
		return nil
	default:
		return []containerAction{actionStart}
	}
}

// canAct reports whether a session may run container actions.
func canAct(s wire.Session) bool { return s.Scope == "admin" }

// actionTimeout bounds a container action: a stop waits for the
// container's stop timeout (10 s by default, more when configured) before
// the server answers, longer than apiTimeout allows.
const actionTimeout = 3 * time.Minute

// confirmAction asks the user before an action that interrupts the
// container; it reports whether to go on.
func confirmAction(a containerAction, name string) bool {
	if a.confirm == "" {
		return true
	}
	return app.Window().Call("confirm", fmt.Sprintf(a.confirm, name)).Bool()
}

// actionButtons renders the actions for a container in state. busy is the
// action under way ("" for none): its button shows a spinner, and every
// button is disabled until it ends, so a second click cannot race the
// first. idPrefix makes the buttons' ids unique on the page, and name goes
// into their accessible names ("Stop web"), which in a table of many rows
// would otherwise all read "Stop". small is the compact size for table rows.
// key names the container (host/id) for go-app's event handler scope, see
// below.
func actionButtons(key, idPrefix, name, state, busy string, small bool, run func(app.Context, containerAction)) app.UI {
	acts := actionsFor(state)
	if busy != "" && len(acts) == 0 {
		acts = []containerAction{{name: busy, label: busy}}
	}
	return app.Div().Class("act-group").Role("group").Aria("label", "Actions for "+name).Body(
		app.Range(acts).Slice(func(i int) app.UI {
			a := acts[i]
			label := a.label
			if busy == a.name {
				label = progressLabel(a.name)
			}
			class := "btn"
			if small {
				class += " btn-small"
			}
			if a.name == "stop" {
				class += " btn-danger"
			}
			b := app.Button().
				Type("button").
				ID(idPrefix+a.name).
				Class(class).
				DataSet("action", a.name).
				Aria("busy", strconv.FormatBool(busy == a.name)).
				Aria("label", a.label+" "+name).
				Body(
					app.If(busy == a.name, app.Span().Class("spinner").Aria("hidden", "true")),
					app.Span().Text(label),
				).
				// The scope is what the handler acts on. go-app keeps a
				// mounted element's handler on update when the new one is
				// the same function code with the same scope, and every
				// closure made here is the same code: without the scope, a
				// button reused for another action (Stop becoming Start) or
				// another container (rows re-sorted) would still run the
				// first closure's action on the first closure's container.
				OnClick(func(ctx app.Context, e app.Event) {
					if !confirmAction(a, name) {
						return
					}
					run(ctx, a)
				}, key, a.name, name)
			if busy != "" {
				// Only set when true: go-app's server rendering writes
				// disabled="false", which HTML reads as disabled.
				b = b.Disabled(true)
			}
			return b
		}),
	)
}

// progressLabel is what a button says while its action runs.
func progressLabel(action string) string {
	switch action {
	case "start":
		return "Starting…"
	case "stop":
		return "Stopping…"
	case "restart":
		return "Restarting…"
	default:
		return action + "…"
	}
}

// actionDone is the status line after an action succeeded.
func actionDone(action, name string) string {
	switch action {
	case "start":
		return "Started " + name + "."
	case "stop":
		return "Stopped " + name + "."
	case "restart":
		return "Restarted " + name + "."
	default:
		return name + ": " + action + " done."
	}
}

// actionState is the state a container is in once an action succeeded, to
// show until the next listing or stats frame says more.
func actionState(action string) string {
	if action == "stop" {
		return "exited"
	}
	return "running"
}
