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
// xterm.js; what is typed and pasted runs, a narrower window is a smaller
// terminal for the shell, and exit 3 ends the session saying so, with a
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

	typeIn("stty size\r")
	b.waitJS("the size", uiTimeout, "/^\\d+ \\d+\\s*$/m.test("+termText+")", termText)
	wide := lastSize(b)
	b.run("a narrower window", emulation.SetDeviceMetricsOverride(900, 900, 1, false))
	typeIn("clear; stty size\r")
	b.waitJS("a new size", uiTimeout, "(m => m && m[1] !== "+jsString(wide)+")(("+termText+").match(/^(\\d+ \\d+)\\s*$/m))", termText)
	if narrow := lastSize(b); narrow == wide || !strings.HasPrefix(narrow, strings.Fields(wide)[0]+" ") {
		t.Errorf("stty size %q in a narrower window, %q before: want fewer columns, as many rows", narrow, wide)
	}

	b.run("the screen we look at", emulation.SetDeviceMetricsOverride(1280, 900, 1, false))
	typeIn("clear; echo $((6*7)); ls /bin | head -n 8; stty size\r")
	b.waitJS("the listing", uiTimeout, termText+".includes('busybox')", termText)
	b.screenshots("terminal")

	typeIn("exit 3\r")
	b.waitJS("the session ended with its code", uiTimeout, termStatus+" === 'Session ended · exit code 3'", termStatus)
	b.waitSelector("the New session button", "#terminal-new", uiTimeout)
	if !strings.Contains(b.text("#terminal-screen"), "Session ended · exit code 3") {
		t.Errorf("the terminal does not say the session ended: %q", b.text("#terminal-screen"))
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

// lastSize is the last "ROWS COLS" line the terminal shows.
func lastSize(b *browser) string {
	var s string
	b.eval("stty size", "(m => m ? m[m.length-1].trim() : '')(("+termText+").match(/^\\d+ \\d+\\s*$/gm))", &s)
	return s
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
