package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// Browser test timings.
const (
	// browserStepTimeout bounds one step (a navigation, a wait for an
	// element): the wasm app compiles in a second or two on two cores, the
	// rest is loopback, so a step that takes longer has hung.
	browserStepTimeout = 45 * time.Second
	// browserStartTimeout bounds launching Chromium and opening its tab.
	browserStartTimeout = 30 * time.Second
)

// chromiumPath finds Debian's chromium on PATH. Without it the test is
// skipped with one line, except under CI=true where a missing browser must
// fail the run rather than let it pass by skipping (the Makefile's test
// target installs it).
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("chromium not found on PATH (CI=true): %v; install it with apt-get install -y chromium or run make test", err)
		}
		tb.Skipf("chromium not found on PATH: browser tests skipped (apt-get install -y chromium)")
	}
	return p
}

// browser is one headless Chromium with a fresh profile, driven over the
// DevTools protocol. It records every console error, uncaught exception
// and error log entry (a failed request, a refused websocket) as a problem,
// so each test can assert that a page ran cleanly.
type browser struct {
	tb  testing.TB
	ctx context.Context // the tab's context; cancelled when the test ends

	mu       sync.Mutex
	problems []string
	allowed  []*regexp.Regexp
}

// newBrowser launches Chromium with the flags a headless CI box needs and a
// user-data dir of its own (t.TempDir), so every browser starts cold: no
// HTTP cache, no service worker, no cookies. extra adds or overrides flags.
func newBrowser(tb testing.TB, extra ...chromedp.ExecAllocatorOption) *browser {
	tb.Helper()
	exe := chromiumPath(tb)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root in a container, where the sandbox cannot start
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is small in containers; Chromium crashes on it
		chromedp.Flag("hide-scrollbars", true),       // screenshots without scrollbar gutters
		chromedp.Flag("mute-audio", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(tb.Logf))
	b := &browser{tb: tb, ctx: ctx}
	chromedp.ListenTarget(ctx, b.onEvent)
	// The first Run starts the browser and enables the runtime and log
	// domains whose events onEvent reads. It must get the tab's own context:
	// cancelling the context of the first Run closes the browser, so the
	// start is bounded by a timer that cancels only when it fires.
	timer := time.AfterFunc(browserStartTimeout, cancelTab)
	err := chromedp.Run(ctx)
	timer.Stop()
	if err != nil {
		cancelTab()
		cancelAlloc()
		tb.Fatalf("start chromium %s: %v", exe, err)
	}
	tb.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
			tb.Logf("closing chromium: %v", err)
		}
		cancelTab()
		cancelAlloc()
	})
	return b
}

// onEvent turns DevTools events into problems: console.error and
// console.assert calls, uncaught exceptions, and error-level log entries.
func (b *browser) onEvent(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.APITypeError && e.Type != runtime.APITypeAssert {
			return
		}
		var parts []string
		for _, a := range e.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg = "uncaught exception: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		if d.URL != "" {
			msg += fmt.Sprintf(" (%s:%d)", d.URL, d.LineNumber)
		}
	case *cdplog.EventEntryAdded:
		if e.Entry.Level != cdplog.LevelError {
			return
		}
		msg = fmt.Sprintf("log %s error: %s", e.Entry.Source, e.Entry.Text)
		if e.Entry.URL != "" {
			msg += " (" + e.Entry.URL + ")"
		}
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, re := range b.allowed {
		if re.MatchString(msg) {
			return
		}
	}
	b.problems = append(b.problems, msg)
}

// allow ignores, from now on, problems matching pattern: a test that stops
// the server expects failed connections while it is down.
func (b *browser) allow(pattern string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = append(b.allowed, regexp.MustCompile(pattern))
}

// disallowAll ends every allow.
func (b *browser) disallowAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = nil
}

// problemsSoFar is a copy of the problems recorded and not yet reported.
func (b *browser) problemsSoFar() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// expectNoProblems fails the test with every console error, uncaught
// exception and error log entry seen so far, naming where (what) they were
// seen, and starts a fresh list.
func (b *browser) expectNoProblems(what string) {
	b.tb.Helper()
	// Events arrive asynchronously: give the last ones a moment to land.
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	p := b.problems
	b.problems = nil
	b.mu.Unlock()
	if len(p) > 0 {
		b.tb.Errorf("%s: %d console problem(s):\n  %s", what, len(p), strings.Join(p, "\n  "))
	}
}

// run runs actions with browserStepTimeout, failing the test on error.
func (b *browser) run(what string, actions ...chromedp.Action) {
	b.tb.Helper()
	if err := b.try(browserStepTimeout, actions...); err != nil {
		b.tb.Fatalf("%s: %v", what, err)
	}
}

// click clicks the element sel matches. The app re-renders as data
// arrives, which can replace the element between the query and the click
// ("Could not find node"): then the click is tried again on the new one.
func (b *browser) click(what, sel string) {
	b.tb.Helper()
	var err error
	for range 5 {
		if err = b.try(browserStepTimeout, chromedp.Click(sel, chromedp.ByQuery)); err == nil || !strings.Contains(err.Error(), "Could not find node") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.tb.Fatalf("%s: %v", what, err)
	}
}

// try runs actions within d and returns their error.
func (b *browser) try(d time.Duration, actions ...chromedp.Action) error {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	return chromedp.Run(ctx, actions...)
}

// eval evaluates a JavaScript expression into res, awaiting a promise.
func (b *browser) eval(what, expr string, res any) {
	b.tb.Helper()
	b.run(what, evalAction(expr, res))
}

// evalAction is chromedp.Evaluate awaiting the expression's promise.
func evalAction(expr string, res any) chromedp.Action {
	return chromedp.Evaluate(expr, res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	})
}

// waitJS polls a JavaScript predicate every 100 ms until it is true,
// failing the test after d with what it waited for and, when given, the
// value of describe (JavaScript) at that moment.
func (b *browser) waitJS(what string, d time.Duration, predicate, describe string) {
	b.tb.Helper()
	deadline := time.Now().Add(d)
	for {
		var ok bool
		err := b.try(10*time.Second, evalAction("!!("+predicate+")", &ok))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			state := ""
			if describe != "" {
				var s string
				if e := b.try(5*time.Second, evalAction("String("+describe+")", &s)); e == nil {
					state = "; now: " + s
				}
			}
			if err != nil {
				state += fmt.Sprintf("; last error: %v", err)
			}
			b.tb.Fatalf("%s: not true after %v: %s%s", what, d, predicate, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSelector waits until an element matching the CSS selector exists,
// failing with what it waited for; the page's text (its head) is shown so a
// missing element is easy to diagnose.
func (b *browser) waitSelector(what, sel string, d time.Duration) {
	b.tb.Helper()
	b.waitJS(what, d, "document.querySelector("+jsString(sel)+")",
		"(document.querySelector('main')||document.body).innerText.slice(0,400)")
}

// text is the innerText of the first element matching sel, or "" when none.
func (b *browser) text(sel string) string {
	b.tb.Helper()
	var s string
	b.eval("text of "+sel, "(e => e ? e.innerText : '')(document.querySelector("+jsString(sel)+"))", &s)
	return s
}

// attr is an attribute of the first element matching sel, or "".
func (b *browser) attr(sel, name string) string {
	b.tb.Helper()
	var s string
	b.eval("attribute "+name+" of "+sel, "(e => e ? (e.getAttribute("+jsString(name)+")||'') : '')(document.querySelector("+jsString(sel)+"))", &s)
	return s
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return "'" + r.Replace(s) + "'"
}

// navigate loads url and waits for the load event.
func (b *browser) navigate(url string) {
	b.tb.Helper()
	b.run("navigate to "+url, chromedp.Navigate(url))
}

// installabilityErrors is what Chromium says keeps the current page from
// being installed as an app (empty when it is installable).
func (b *browser) installabilityErrors() []string {
	b.tb.Helper()
	var errs []*page.InstallabilityError
	b.run("installability errors", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		errs, err = page.GetInstallabilityErrors().Do(ctx)
		return err
	}))
	var out []string
	for _, e := range errs {
		s := e.ErrorID
		for _, a := range e.ErrorArguments {
			s += fmt.Sprintf(" %s=%s", a.Name, a.Value)
		}
		out = append(out, s)
	}
	return out
}

// setJavaScript turns script execution in the tab on or off, to check that a
// page works without it.
func (b *browser) setJavaScript(on bool) {
	b.tb.Helper()
	b.run("script execution", emulation.SetScriptExecutionDisabled(!on))
}

// setColorScheme emulates prefers-color-scheme ("light" or "dark").
func (b *browser) setColorScheme(scheme string) {
	b.tb.Helper()
	b.run("emulate "+scheme, emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{
		{Name: "prefers-color-scheme", Value: scheme},
	}))
}

// screenshots saves full-page PNGs of the current page in the light and the
// dark theme to .artifacts/screenshots/NAME-light.png and NAME-dark.png at
// the repository root, and leaves the tab in the light theme.
func (b *browser) screenshots(name string) {
	b.tb.Helper()
	dir := filepath.Join(testenv.RepoRoot(b.tb), ".artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.tb.Fatalf("screenshot dir: %v", err)
	}
	for _, scheme := range []string{"dark", "light"} {
		b.setColorScheme(scheme)
		// Two animation frames: the new theme's styles are applied and
		// painted before the capture.
		var done bool
		b.eval("paint "+scheme, "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))", &done)
		var png []byte
		b.run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
		file := filepath.Join(dir, name+"-"+scheme+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			b.tb.Fatalf("save screenshot: %v", err)
		}
	}
}

// restartServer stops s and starts a new crowsnest on the same address and
// data directory, as a restart of the binary would: a browser sees the same
// origin, its sockets drop, and the store keeps its history.
func restartServer(t testing.TB, s *liveServer, down time.Duration, args ...string) *liveServer {
	t.Helper()
	addr := strings.TrimPrefix(s.URL, "http://")
	s.Stop()
	time.Sleep(down)
	return startServerAt(t, addr, s.Data, args...)
}
