package main

import (
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// TestBrowserAlerts: on the Alerts page a user starts from the crash
// preset, narrows it to a label, gives a webhook and creates it; the test
// button reports the delivery; a container exiting 3 then shows in the
// recent firings as delivered, and the rule's last firing is set.
func TestBrowserAlerts(t *testing.T) {
	testenv.Engine(t)
	chromiumPath(t)
	srv := startServer(t)
	rc := newReceiver(t, 0)
	b := openUI(t, srv, "/alerts")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console problems so far: %q", b.problemsSoFar())
		}
	})
	key, value := testLabel(t)
	name := "crash in " + value

	b.waitSelector("the presets", "#alert-presets a", uiTimeout)
	b.click("start from the crash preset", `#alert-presets a[href$="preset=crash"]`)
	b.waitJS("the form holds the preset", uiTimeout, `document.querySelector('#alert-when') && document.querySelector('#alert-when').value.includes('stopped')`,
		`(e => e ? e.value : 'no #alert-when')(document.querySelector('#alert-when'))`)
	// Pasted rather than typed: go-app re-renders on every input event,
	// and keystrokes sent during a re-render can be lost.
	paste := func(sel, value string) {
		var ok bool
		b.eval("paste into "+sel, `(e => { e.value = `+jsString(value)+`; e.dispatchEvent(new Event('input', {bubbles: true})); return true })(document.querySelector(`+jsString(sel)+`))`, &ok)
	}
	paste("#alert-name", name)
	paste("#alert-f-label", key+"="+value)
	paste("#alert-notify", rc.URL)
	b.click("create", "#alert-create")
	row := `#alerts-table tr[data-rule="` + name + `"]`
	b.waitSelector("the rule in the rules table", row+".selected", uiTimeout)

	b.waitSelector("the test button", "#alert-test:not([disabled])", uiTimeout)
	b.click("send a test", "#alert-test")
	b.waitSelector("the test's outcome", `#alert-tested li[data-ok="true"]`, 30*time.Second)
	if a := rc.wait(t, 1, 5*time.Second)[0].alert; !a.Test || a.Rule != name {
		t.Fatalf("the webhook got %+v, want the test of %s", a, name)
	}

	_, ctr := runLabelled(t, testenv.RunOptions{Args: []string{"-lines", "1", "-exit", "3"}})
	rc.wait(t, 2, 30*time.Second)
	firing := `#firings-table tr[data-rule="` + name + `"]`
	b.waitJS("the firing, delivered, in recent firings", uiTimeout,
		`(e => e && e.innerText.includes(`+jsString(ctr)+`) && !!e.querySelector('li[data-ok="true"]'))(document.querySelector(`+jsString(firing)+`))`,
		`(e => e ? e.innerText : 'no firings table')(document.querySelector('#firings-table'))`)
	b.waitJS("the rule's last firing", uiTimeout,
		`document.querySelector(`+jsString(row+` td[data-last]`)+`).dataset.last !== 'never'`,
		`document.querySelector(`+jsString(row)+`).innerText`)
	b.expectNoProblems("alerts page")
	var top bool
	b.eval("scroll to the top", `(window.scrollTo(0, 0), true)`, &top) // the clicks scrolled; the sticky bar would sit mid-shot
	b.screenshots("alerts")
}
