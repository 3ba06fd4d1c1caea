package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// The browser tests drive the real binary (startServer), the real engine
// (testenv) and the wasm UI in Debian's headless Chromium. They find
// elements by the ids and data attributes the UI renders for them (see
// app/): #containers tr[data-id], #conn-state[data-state], #events-table
// tr[data-action], and otherwise by the text a user reads on the page.

// uiTimeout is how long a page may take to show live data: the wasm app
// loads and compiles, opens its sockets, and the first stats interval
// passes.
const uiTimeout = 60 * time.Second

// requireUI skips nothing: a server built without app.wasm serves a page
// saying so, and the browser tests fail with that explanation instead of a
// missing element further on.
func requireUI(t *testing.T, srv *liveServer) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/web/app.wasm")
	if err != nil {
		t.Fatalf("GET /web/app.wasm: %v", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("read /web/app.wasm: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /web/app.wasm: %d: the binary was built without the UI; run make wasm before the browser tests", resp.StatusCode)
	}
}

// openUI starts a browser on path of srv and waits until the app has
// rendered its navigation bar (the wasm app runs, not just the loader).
func openUI(t *testing.T, srv *liveServer, path string) *browser {
	t.Helper()
	requireUI(t, srv)
	b := newBrowser(t)
	b.navigate(srv.URL + path)
	b.waitSelector("the UI renders its navigation bar", "#conn-state", uiTimeout)
	return b
}

// mainText is the text of the page's main element.
const mainText = "(document.querySelector('main')||document.body).innerText"

// TestBrowserOverviewChart: a container started on the engine appears on
// the overview with a CPU sparkline that moves, and its own page shows
// larger charts.
func TestBrowserOverviewChart(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	id, name := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "250ms", "-text", "overview-tick"}})
	testenv.WaitLog(t, eng, id, "overview-tick 1")
	srv := startServer(t)
	b := openUI(t, srv, "/")

	row := `#containers tr[data-id="` + id + `"]`
	b.waitSelector("the helper container's row on the overview", row, uiTimeout)
	if got := b.text(row); !strings.Contains(got, name) {
		t.Errorf("row of %s shows %q", name, got)
	}
	line := row + " svg.cpu polyline.line"
	b.waitSelector("a CPU sparkline with samples", line, uiTimeout)
	first := b.attr(line, "points")
	b.waitJS("the CPU sparkline moves", 15*time.Second,
		"document.querySelector("+jsString(line)+").getAttribute('points') !== "+jsString(first),
		"document.querySelector("+jsString(line)+").getAttribute('points')")
	b.expectNoProblems("overview")
	// Some seconds of history first, so the screenshot shows what a user
	// sees after a glance rather than the first sample at the right edge.
	b.waitJS("ten CPU samples", 30*time.Second,
		"document.querySelector("+jsString(line)+").getAttribute('points').split(' ').length >= 10",
		"document.querySelector("+jsString(line)+").getAttribute('points')")
	b.screenshots("overview")

	// The container's own page, reached as a user would: its link.
	b.click("open the container page", row+" a")
	b.waitJS("the container page names the container", uiTimeout,
		"(e => e && e.innerText.includes("+jsString(name)+"))(document.querySelector('#container-name'))", mainText)
	b.waitJS("the container page shows a CPU figure", uiTimeout,
		"(e => e && /\\d/.test(e.innerText))(document.querySelector('#cpu-now'))", mainText)
	b.expectNoProblems("container page")
	b.screenshots("container")
}

// TestBrowserEventsStart: a container started while the events page is open
// shows its start there.
func TestBrowserEventsStart(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	srv := startServer(t)
	b := openUI(t, srv, "/events")
	b.waitJS("the events stream is live", uiTimeout, `document.querySelector('#conn-state').dataset.state === 'live'`,
		"document.querySelector('#conn-state').dataset.state")

	_, name := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-sleep", "1h"}})
	b.waitJS("the start of "+name+" on the events page", uiTimeout,
		`[...document.querySelectorAll('#events-table tr[data-action="start"]')].some(r => r.innerText.includes(`+jsString(name)+`))`,
		"(e => e ? e.innerText.slice(0, 600) : 'no #events-table')(document.querySelector('#events-table'))")
	b.expectNoProblems("events page")
	b.screenshots("events")
}

// TestBrowserLogsStream: a container's output streams on the logs page.
func TestBrowserLogsStream(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "200ms", "-stderr", "-text", "logs-tick"}})
	testenv.WaitLog(t, eng, id, "logs-tick 1")
	srv := startServer(t)
	b := openUI(t, srv, "/logs?"+url.Values{"host": {"Localhost"}, "container": {id}}.Encode())

	b.waitSelector("the log view", "#log-view", uiTimeout)
	logText := "document.querySelector('#log-view').innerText"
	b.waitJS("the helper's output on the logs page", uiTimeout, logText+".includes('logs-tick ')", mainText+".slice(-400)")
	// Streaming, not a snapshot: a later line arrives while we watch.
	var last int
	b.eval("last line number", `Math.max(0, ...[...`+logText+`.matchAll(/logs-tick (\d+)/g)].map(m => +m[1]))`, &last)
	b.waitJS("a newer line streams in", 15*time.Second,
		`Math.max(0, ...[...`+logText+`.matchAll(/logs-tick (\d+)/g)].map(m => +m[1])) > `+strconv.Itoa(last+3),
		logText+".slice(-300)")
	if !strings.Contains(b.text("#log-view"), "err logs-tick") {
		t.Error("the stderr lines are missing from the logs page")
	}
	b.expectNoProblems("logs page")
	b.screenshots("logs")
}

// TestBrowserStackDeploy: deploying a stack from the stacks page shows its
// progress lines up to "deployed".
func TestBrowserStackDeploy(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	image := testenv.HelperImage(t)
	key, value := testenv.Label(t)
	t.Cleanup(func() { testenv.RemoveAll(t, eng) })
	srv := startServer(t)

	name := "cn-ui-" + value
	compose := fmt.Sprintf("services:\n  app:\n    image: %s\n    command: [\"-lines\", \"-1\", \"-every\", \"1s\"]\n    labels:\n      %s: %q\n", image, key, value)
	id := createStack(t, srv, name, compose)
	t.Cleanup(func() { deleteStack(t, srv, id) })

	b := openUI(t, srv, "/stacks")
	t.Cleanup(func() {
		if t.Failed() { // a dead app or refused socket explains a missing element
			t.Logf("console problems so far: %q", b.problemsSoFar())
		}
	})
	row := `#stacks-table tr[data-stack="` + name + `"]`
	b.waitSelector("the stack in the stacks table", row+" a", uiTimeout)
	b.click("select the stack", row+" a")
	b.waitSelector("the stack's deploy button", "#stack-deploy:not([disabled])", uiTimeout)
	// A click that lands while the app re-renders the editor (the record
	// arriving) can hit the button being replaced: until the page says the
	// deploy started or failed, click again, as a user would.
	for i := 0; ; i++ {
		b.click("deploy", "#stack-deploy")
		if b.try(10*time.Second, chromedp.WaitVisible("#stack-ok, #stack-error", chromedp.ByQuery)) == nil {
			break
		}
		if i == 2 {
			t.Fatal("three clicks on deploy and the page says neither that it started nor why not")
		}
	}
	if b.try(time.Second, chromedp.WaitVisible("#stack-error", chromedp.ByQuery)) == nil {
		t.Fatalf("deploy refused: %s", b.text("#stack-error"))
	}
	progress := "(e => e ? e.innerText : 'no #stack-progress')(document.querySelector('#stack-progress'))"
	b.waitJS("progress lines up to deployed", 3*time.Minute,
		`document.querySelector('#stack-progress li[data-status="deployed"]')`, progress)
	var lines int
	b.eval("progress lines", `document.querySelectorAll('#stack-progress li').length`, &lines)
	if lines < 2 {
		t.Errorf("only %d progress line(s) before deployed:\n%s", lines, b.text("#stack-progress"))
	}
	b.expectNoProblems("stacks page")
	b.screenshots("stacks")
}

// createStack creates a stack through the REST API and returns its id.
func createStack(t *testing.T, srv *liveServer, name, compose string) int {
	t.Helper()
	body, err := json.Marshal(map[string]string{"name": name, "compose": compose})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/api/v1/stacks", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("create stack: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("create stack: %v", err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create stack: %d %s", resp.StatusCode, raw)
	}
	var rec struct {
		ID int `json:"id"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("create stack answer %s: %v", raw, err)
	}
	return rec.ID
}

// deleteStack takes a stack down through the REST API and waits until it is
// gone (the removal runs in the background, and stopping the server first
// would cut it short, leaving its network behind); the run label removes
// any container left.
func deleteStack(t *testing.T, srv *liveServer, id int) {
	t.Helper()
	u := srv.URL + "/api/v1/stacks/" + strconv.Itoa(id)
	req, err := http.NewRequest(http.MethodDelete, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("delete stack %d: %v", id, err)
		return
	}
	resp.Body.Close()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err != nil {
			t.Errorf("stack %d after delete: %v", id, err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("stack %d still there a minute after DELETE", id)
}

// TestBrowserStorePost: an event posted with the store page's form shows in
// the page's live stream.
func TestBrowserStorePost(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	b := openUI(t, srv, "/store")
	tag := fmt.Sprintf("uitest:%d", time.Now().UnixNano())

	b.waitSelector("the post form", "#store-post #post-tags", uiTimeout)
	b.waitJS("the live stream is open", uiTimeout, `document.querySelector('#conn-state').dataset.state === 'live'`,
		"document.querySelector('#conn-state').dataset.state")
	b.run("fill and post", chromedp.SendKeys("#post-tags", tag, chromedp.ByQuery), chromedp.Click("#post-submit", chromedp.ByQuery))
	b.waitJS("the posted event in the live stream", 30*time.Second,
		"(e => e && e.innerText.includes("+jsString(tag)+"))(document.querySelector('#store-live'))",
		"(e => e ? e.innerText.slice(0, 400) : 'no #store-live')(document.querySelector('#store-live'))")
	b.expectNoProblems("store page")
	b.screenshots("store")
}

// TestBrowserReconnect: the UI reconnects on its own after the server
// restarts on the same address and data directory, and live data flows
// again.
func TestBrowserReconnect(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	b := openUI(t, srv, "/events")
	live := `document.querySelector('#conn-state').dataset.state === 'live'`
	state := `document.querySelector('#conn-state').dataset.state`
	b.waitJS("live before the restart", uiTimeout, live, state)
	b.expectNoProblems("before the restart")

	// While the server is down, failed requests and sockets are expected.
	// The UI also logs the dropped stream ("connection lost") itself.
	b.allow(`ERR_CONNECTION_REFUSED|WebSocket connection to .* failed|Failed to fetch|Failed to load resource|net::ERR_|connection lost`)
	down := make(chan *liveServer, 1)
	go func() { down <- restartServer(t, srv, 3*time.Second) }()
	b.waitJS("the UI notices the server is gone", 15*time.Second, `['reconnecting', 'offline'].includes(`+state+`)`, state)
	srv = <-down
	b.waitJS("live again after the restart", uiTimeout, live, state)
	b.disallowAll()
	b.expectNoProblems("restart (beyond refused connections while down)")

	// Data flows on the new connection: an event posted now is shown.
	tag := fmt.Sprintf("reconnect:%d", time.Now().UnixNano())
	resp, err := http.Post(srv.URL+"/api/v1/events", "application/json", strings.NewReader(`{"tags":["`+tag+`"]}`))
	if err != nil {
		t.Fatalf("post event: %v", err)
	}
	resp.Body.Close()
	b.navigate(srv.URL + "/store")
	b.waitJS("the store page after the restart shows the new event", uiTimeout, mainText+".includes("+jsString(tag)+")", mainText+".slice(0, 400)")
	b.expectNoProblems("after the restart")
}

// TestBrowserPagesClean visits every page, asserts no console error or
// exception on any, and saves its screenshots; on the overview it checks
// that Chromium finds the app installable.
func TestBrowserPagesClean(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	b := openUI(t, srv, "/")

	// Installability needs the manifest, icons and a service worker with a
	// fetch handler controlling the page.
	var controlled bool
	b.eval("service worker ready", `Promise.race([
		navigator.serviceWorker.ready.then(() => true),
		new Promise(r => setTimeout(() => r(false), 20000))])`, &controlled)
	if !controlled {
		// Its install failed (a resource it caches did not load) or it was
		// never registered.
		var regs string
		b.eval("registrations", `navigator.serviceWorker.getRegistrations().then(rs => JSON.stringify(rs.map(r => r.scope)))`, &regs)
		t.Fatalf("no active service worker after 20 s (registrations %s); console: %v", regs, b.problemsSoFar())
	}
	b.navigate(srv.URL + "/") // now under the worker's control
	b.waitSelector("the UI renders again", "#conn-state", uiTimeout)
	b.eval("page controlled by the service worker", `!!navigator.serviceWorker.controller`, &controlled)
	if !controlled {
		t.Error("the page is not controlled by the service worker after a reload")
	}
	if errs := b.installabilityErrors(); len(errs) > 0 {
		t.Errorf("Chromium finds the app not installable: %v", errs)
	}

	for _, p := range []struct{ path, name, ready string }{
		{"/", "overview", "#containers"},
		{"/events", "events", "#events-table"},
		{"/logs", "logs", "#log-view, main h1"},
		{"/stacks", "stacks", "#stacks-table"},
		{"/store", "store", "#store-table"},
		{"/alerts", "alerts", "#alerts-table"},
	} {
		b.navigate(srv.URL + p.path)
		b.waitSelector(p.name+" page renders", p.ready, uiTimeout)
		// A second of live updates, so errors of the streams show too.
		time.Sleep(time.Second)
		b.expectNoProblems(p.path)
		if p.name != "overview" && p.name != "events" { // those two are shot with live data by their own tests
			b.screenshots(p.name + "-empty")
		}
	}
	for _, p := range []string{"/api", "/login"} {
		b.navigate(srv.URL + p)
		b.waitSelector(p+" renders", "main h1", 10*time.Second)
		b.expectNoProblems(p)
		b.screenshots(strings.TrimPrefix(p, "/"))
	}
}

// TestBrowserPagesWithoutJavaScript: /api and /login render and work with
// JavaScript off, and logging in through the form sets the session cookie.
func TestBrowserPagesWithoutJavaScript(t *testing.T) {
	chromiumPath(t)
	const token = "nojs-admin-token"
	srv := startServer(t, "--token", "admin:"+token)
	b := newBrowser(t)
	b.setJavaScript(false)

	b.navigate(srv.URL + "/api")
	var html string
	b.run("read /api", chromedp.OuterHTML("main", &html, chromedp.ByQuery))
	for _, want := range []string{"API reference", "/events/ws", "/api/v1/events/stream", "Authorization: Bearer"} {
		if !strings.Contains(html, want) {
			t.Errorf("/api without JavaScript lacks %q", want)
		}
	}

	b.navigate(srv.URL + "/login")
	b.run("log in with the form",
		chromedp.SendKeys("#token", token, chromedp.ByQuery),
		chromedp.Click(`main form[action="/login"] button[type=submit]`, chromedp.ByQuery),
	)
	var cookies []*network.Cookie
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.run("read cookies", chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			cookies, err = network.GetCookies().WithURLs([]string{srv.URL + "/"}).Do(ctx)
			return err
		}))
		if len(cookies) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var session *network.Cookie
	for _, c := range cookies {
		if c.Name == auth.SessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no %s cookie after logging in without JavaScript: %v", auth.SessionCookie, cookies)
	}
	if !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict {
		t.Errorf("session cookie: HttpOnly %v SameSite %q, want true and Strict", session.HTTPOnly, session.SameSite)
	}
	var loc string
	b.run("where the form led", chromedp.Location(&loc))
	if strings.TrimSuffix(loc, "/") != srv.URL {
		t.Errorf("after logging in the browser is at %s, want %s/", loc, srv.URL)
	}
	b.navigate(srv.URL + "/login")
	b.run("read /login", chromedp.OuterHTML("main", &html, chromedp.ByQuery))
	if !strings.Contains(html, "logged in") {
		t.Errorf("/login after logging in does not say so:\n%s", html)
	}
	b.expectNoProblems("pages without JavaScript")
}

// TestBrowserContainerActions: an admin restarts, stops and starts a
// container from its page, with the confirmation answered yes, and the
// page follows the engine's state; the overview offers the same actions in
// the container's row.
func TestBrowserContainerActions(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	id, name := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "1h"}})
	testenv.WaitLog(t, eng, id, "line 1")
	srv := startServer(t) // open: the viewer is admin
	b := openUI(t, srv, "/containers/Localhost/"+id)

	state := "(e => e ? e.innerText : 'no #container-state')(document.querySelector('#container-state'))"
	b.waitSelector("the admin's stop button", "#container-stop:not([disabled])", uiTimeout)
	if got := b.attr("#container-stop", "aria-label"); got != "Stop "+name {
		t.Errorf("stop button's accessible name %q", got)
	}
	// Stop and restart ask first; the test answers yes, and counts.
	var asked int
	b.eval("answer confirmations", `(window.__asked = 0, window.confirm = () => { window.__asked++; return true }, 0)`, &asked)

	b.click("restart", "#container-restart")
	b.waitJS("the restart is reported", uiTimeout, `(e => e && e.innerText.startsWith('Restarted'))(document.querySelector('#action-ok'))`, mainText+".slice(0, 600)")
	b.click("stop", "#container-stop")
	b.waitSelector("the start button once stopped", "#container-start:not([disabled])", uiTimeout)
	b.waitJS("the state shows exited", uiTimeout, state+" === 'exited'", state)
	b.eval("confirmations asked", `window.__asked`, &asked)
	if asked != 2 {
		t.Errorf("%d confirmations for a restart and a stop, want 2", asked)
	}
	b.screenshots("container-stopped")
	b.click("start", "#container-start")
	b.waitSelector("the stop button once running", "#container-stop:not([disabled])", uiTimeout)
	b.waitJS("the state shows running", uiTimeout, state+" === 'running'", state)
	b.eval("confirmations asked", `window.__asked`, &asked)
	if asked != 2 {
		t.Error("starting asked for a confirmation")
	}

	// The overview row carries the actions too, named for the container.
	b.click("back to the overview", "#nav-overview")
	row := `#containers tr[data-id="` + id + `"]`
	b.waitSelector("the row's restart button", row+` button[data-action="restart"]`, uiTimeout)
	if got := b.attr(row+` button[data-action="restart"]`, "aria-label"); got != "Restart "+name {
		t.Errorf("row restart button's accessible name %q", got)
	}
	b.expectNoProblems("container actions")
	b.screenshots("overview-admin")
}

// TestBrowserActionsHiddenForReaders: a viewer whose session has the read
// scope sees the container but no action buttons.
func TestBrowserActionsHiddenForReaders(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "1h"}})
	const readToken = "browser-read-token-0123456789"
	srv := startServer(t, "--token", "read:"+readToken, "--token", "admin:browser-admin-token-0123456789")
	requireUI(t, srv)
	b := newBrowser(t)
	b.run("set the read session cookie", chromedp.ActionFunc(func(ctx context.Context) error {
		return network.SetCookie(auth.SessionCookie, loginSession(t, srv.URL, readToken)).WithURL(srv.URL + "/").WithHTTPOnly(true).Do(ctx)
	}))
	b.navigate(srv.URL + "/containers/Localhost/" + id)
	b.waitSelector("the container's inspect summary", "#inspect-title", uiTimeout)
	b.navigate(srv.URL + "/")
	row := `#containers tr[data-id="` + id + `"]`
	b.waitSelector("the container's row", row, uiTimeout)
	time.Sleep(time.Second) // the session answer has long arrived
	var buttons int
	b.eval("action buttons", `document.querySelectorAll('button[data-action]').length`, &buttons)
	if buttons != 0 {
		t.Errorf("a read-only viewer sees %d action buttons", buttons)
	}
	b.expectNoProblems("read-only viewer")
}

// TestBrowserPhoneLayout visits every page at a phone's size and checks
// that none is wider than the screen (wide tables scroll inside their
// card, not the page); it saves NAME-phone screenshots to look at.
func TestBrowserPhoneLayout(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	srv := startServer(t) // first, so the container's start is in its store for the events page
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "500ms", "-text", "phone-tick"}})
	resp, err := http.Post(srv.URL+"/api/v1/events", "application/json", strings.NewReader(`{"tags":["deploy:web","env:prod"],"value":{"version":"1.4.2"}}`))
	if err != nil {
		t.Fatalf("post an event: %v", err)
	}
	resp.Body.Close()
	b := openUI(t, srv, "/")
	b.run("phone screen", emulation.SetDeviceMetricsOverride(390, 844, 2, true))
	for _, p := range []struct{ path, name, ready string }{
		{"/", "overview", `#containers tr[data-id="` + id + `"]`},
		{"/containers/Localhost/" + id, "container", "#inspect-title"},
		{"/events?since=1h", "events", "#events-table tr[data-action]"},
		{"/logs?" + url.Values{"host": {"Localhost"}, "container": {id}}.Encode(), "logs", "#log-view"},
		{"/stacks", "stacks", "#stacks-table"},
		{"/store", "store", "#store-table tr[data-id]"},
	} {
		b.navigate(srv.URL + p.path)
		b.waitSelector(p.name+" page renders", p.ready, uiTimeout)
		time.Sleep(time.Second)
		var overflow int
		b.eval("page overflow", `document.documentElement.scrollWidth - window.innerWidth`, &overflow)
		if overflow > 0 {
			var wide string
			b.eval("widest element", `[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap, .logview')).slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id).join(', ')`, &wide)
			t.Errorf("%s is %d px wider than a 390 px phone; overflowing: %s", p.path, overflow, wide)
		}
		b.expectNoProblems(p.path + " on a phone")
		phoneScreenshots(b, p.name)
	}
}

// phoneScreenshots saves what a phone shows of the current page (the
// viewport, not the full page, which would be too long to look at) in the
// dark and the light theme, as NAME-phone-dark.png and NAME-phone-light.png.
func phoneScreenshots(b *browser, name string) {
	b.tb.Helper()
	dir := filepath.Join(testenv.RepoRoot(b.tb), ".artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.tb.Fatalf("screenshot dir: %v", err)
	}
	for _, scheme := range []string{"dark", "light"} {
		b.setColorScheme(scheme)
		var done bool
		b.eval("paint "+scheme, "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))", &done)
		var png []byte
		b.run("screenshot "+name, chromedp.CaptureScreenshot(&png))
		if err := os.WriteFile(filepath.Join(dir, name+"-phone-"+scheme+".png"), png, 0o644); err != nil {
			b.tb.Fatalf("save screenshot: %v", err)
		}
	}
}

// TestBrowserOfflineStart: after a first visit the app starts with the
// server gone, from the service worker's cache (the shell, app.js and the
// preloaded app.wasm), and says the server is unreachable.
func TestBrowserOfflineStart(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	b := openUI(t, srv, "/")
	// The worker claims the page once its install has cached the shell.
	b.waitJS("the service worker controls the page", 30*time.Second, "navigator.serviceWorker.controller", "")
	b.expectNoProblems("first visit")

	b.allow(`ERR_CONNECTION_REFUSED|WebSocket connection to .* failed|Failed to fetch|Failed to load resource|net::ERR_|connection lost|unreachable`)
	srv.Stop()
	b.navigate(srv.URL + "/events")
	state := `document.querySelector('#conn-state').dataset.state`
	b.waitJS("the app starts offline and says so", uiTimeout,
		`!!document.querySelector('#conn-state') && ['reconnecting', 'offline'].includes(`+state+`)`,
		"document.body.innerText.slice(0, 300)")
}
