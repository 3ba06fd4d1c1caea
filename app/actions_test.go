package main

import (
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestActionsFor(t *testing.T) {
	names := func(acts []containerAction) string {
		var s []string
		for _, a := range acts {
			s = append(s, a.name)
		}
		return strings.Join(s, ",")
	}
	for state, want := range map[string]string{
		"running": "stop,restart", "paused": "stop,restart", "restarting": "stop,restart",
		"exited": "start", "created": "start", "dead": "start",
		"removing": "", "": "",
	} {
		if got := names(actionsFor(state)); got != want {
			t.Errorf("actionsFor(%q) = %q, want %q", state, got, want)
		}
	}
	// Only what interrupts the container asks first.
	if actionStart.confirm != "" || actionStop.confirm == "" || actionRestart.confirm == "" {
		t.Error("confirmation: start must not ask, stop and restart must")
	}
}

func TestCanAct(t *testing.T) {
	for _, tc := range []struct {
		s    wire.Session
		want bool
	}{
		{wire.Session{Auth: false, Scope: "admin"}, true},
		{wire.Session{Auth: true, Scope: "admin"}, true},
		{wire.Session{Auth: true, Scope: "read"}, false},
		{wire.Session{Auth: true, Scope: ""}, false},
		{wire.Session{}, false}, // not known yet: no buttons
	} {
		if got := canAct(tc.s); got != tc.want {
			t.Errorf("canAct(%+v) = %v", tc.s, got)
		}
	}
}

func TestActionButtons(t *testing.T) {
	noop := func(app.Context, containerAction) {}

	idle := app.HTMLString(actionButtons("Localhost/abc", "act-", "web", "running", "", true, noop))
	for _, want := range []string{`id="act-stop"`, `id="act-restart"`, `aria-label="Stop web"`, `aria-label="Actions for web"`, `btn btn-small btn-danger`} {
		if !strings.Contains(idle, want) {
			t.Errorf("idle buttons lack %s:\n%s", want, idle)
		}
	}
	if strings.Contains(idle, "disabled") || strings.Contains(idle, "spinner") || strings.Contains(idle, "act-start") {
		t.Errorf("idle running container:\n%s", idle)
	}

	// While a restart runs: every button disabled, a spinner and a
	// progress label on the restart button only.
	busy := app.HTMLString(actionButtons("Localhost/abc", "act-", "web", "running", "restart", false, noop))
	if n := strings.Count(busy, "disabled"); n != 2 {
		t.Errorf("%d disabled buttons, want 2:\n%s", n, busy)
	}
	// (go-app's HTML printer writes a "true" attribute bare; the browser
	// side sets aria-busy="true".)
	if strings.Count(busy, `class="spinner"`) != 1 || !strings.Contains(busy, "Restarting…") || strings.Count(busy, `aria-busy="false"`) != 1 {
		t.Errorf("busy restart:\n%s", busy)
	}
	if strings.Contains(busy, "btn-small") {
		t.Errorf("full-size buttons drawn small:\n%s", busy)
	}

	stopped := app.HTMLString(actionButtons("Localhost/abc", "c-", "web", "exited", "", false, noop))
	if !strings.Contains(stopped, `id="c-start"`) || strings.Contains(stopped, "c-stop") {
		t.Errorf("stopped container:\n%s", stopped)
	}
}

func TestActionTexts(t *testing.T) {
	if got := actionDone("stop", "web"); got != "Stopped web." {
		t.Errorf("actionDone = %q", got)
	}
	if actionState("stop") != "exited" || actionState("start") != "running" || actionState("restart") != "running" {
		t.Error("actionState")
	}
	if progressLabel("start") != "Starting…" || progressLabel("x") != "x…" {
		t.Error("progressLabel")
	}
}
