package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// termText is the text the terminal shows, row by row.
const termText = "(e => e ? Array.from(e.children, r => r.textContent.replace(/\\u00a0/g, ' ')).join('\\n') : '')(document.querySelector('#terminal-screen .xterm-rows'))"

// termStatus is the terminal's header line.
const termStatus = "(e => e ? e.innerText : 'no #terminal-status')(document.querySelector('#terminal-status'))"

// TestBrowserTerminal: the container page's Terminal tab opens a shell in
// xterm.js; what is typed and pasted runs, and exit 3 ends the session saying so, with a
// New session button and no shell started behind the user's back.
func TestBrowserTerminal(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	id, name := testenv.Run(t, eng, testenv.RunOptions{Image: testenv.ShellImage(t, eng)})
	srv := startServer(t) // open: the viewer is admin
	b := openUI(t, srv, "/containers/Localhost/"+id)
	b.run("a desktop window", emulation.SetDeviceMetricsOverride(1280, 900, 1, false))

	b.click("the Terminal tab", "#tab-terminal")
	b.waitJS("the session is connected", uiTimeout, termStatus+" === 'Connected'", termStatus)
	b.waitJS("the shell's prompt", uiTimeout, termText+".includes('# ')", termText)
	typeIn := func(keys string) {
		t.Helper()
		b.run("type "+keys, chromedp.SendKeys("#terminal-screen .xterm-helper-textarea", keys, chromedp.ByQuery))
	}
	typeIn("echo $((6*7))\r")
	b.waitJS("the answer", uiTimeout, "/^42\\s*$/m.test("+termText+")", termText)

	// The browser's paste event, as a user's Ctrl+V gives it.
	b.eval("paste", `(() => {
		const dt = new DataTransfer();
		dt.setData('text/plain', 'echo pasted-$((40+2))\r');
		document.querySelector('#terminal-screen .xterm-helper-textarea').dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
		return true;
	})()`, new(bool))
	b.waitJS("the pasted command's answer", uiTimeout, "/^pasted-42\\s*$/m.test("+termText+")", termText)

	b.run("the screen we look at", emulation.SetDeviceMetricsOverride(1280, 900, 1, false))
	typeIn("clear; echo $((6*7)); ls /bin | head -n 8\r")
	b.waitJS("the listing", uiTimeout, termText+".includes('busybox')", termText)
	b.screenshots("terminal")

	typeIn("exit 3\r")
	b.waitJS("the session ended with its code", uiTimeout, termStatus+" === 'Session ended · exit code 3'", termStatus)
	b.waitSelector("the New session button", "#terminal-new", uiTimeout)
	var shown string
	b.eval("the terminal's text", termText, &shown)
	if !strings.Contains(shown, "Session ended · exit code 3") {
		t.Errorf("the terminal does not say the session ended: %q", shown)
	}
	b.screenshots("terminal-ended")
	if n := execStarts(t, srv, name); n != 1 {
		t.Errorf("%d sessions started before New session, want 1", n)
	}
	b.click("New session", "#terminal-new")
	b.waitJS("a new session", uiTimeout, termStatus+" === 'Connected'", termStatus)
	typeIn("echo again-$((1+1))\r")
	b.waitJS("the new shell answers", uiTimeout, "/^again-2\\s*$/m.test("+termText+")", termText)
	if n := execStarts(t, srv, name); n != 2 {
		t.Errorf("%d sessions started after New session, want 2", n)
	}
	b.expectNoProblems("terminal")
}

// execStarts counts the sessions stored as started in container name.
func execStarts(t *testing.T, s *liveServer, name string) int {
	t.Helper()
	var evs []wire.Event
	getJSON(t, s.URL+"/api/v1/events?type=exec&tag=container:"+name, &evs)
	n := 0
	for _, ev := range evs {
		if slices.Contains(ev.Tags, wire.ExecStartTag) {
			n++
		}
	}
	return n
}
