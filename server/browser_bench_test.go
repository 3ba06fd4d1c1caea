package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// The UI benchmarks (issue 6) measure the wasm app as a user gets it: the
// real binary serving the embedded app.wasm, in headless Debian Chromium on
// loopback. .ci/bench runs them with -benchtime 1x and builds app.wasm first;
// BENCHMARKS.md takes their figures by unit (br-MB, cold-ms, warm-ms,
// main-thread-ms/s).

// uiReadyMarker records, from inside the page, when the wasm app first
// renders its navigation bar (#conn-state): performance.now() is measured
// from the navigation's start, so the figure is the page's own clock, not
// the test's polling.
const uiReadyMarker = `(() => {
	const mark = () => {
		if (window.__cnReady === undefined && document.querySelector('#conn-state')) {
			window.__cnReady = performance.now();
			return true;
		}
		return false;
	};
	const watch = () => {
		if (mark()) return;
		new MutationObserver((_, obs) => { if (mark()) obs.disconnect(); })
			.observe(document.documentElement, {childList: true, subtree: true});
	};
	if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
})();`

// skipUIBench skips under -short: each UI benchmark starts Chromium and the
// server and takes seconds.
func skipUIBench(b *testing.B) {
	b.Helper()
	if testing.Short() {
		b.Skip("UI benchmarks start Chromium: skipped under -short")
	}
}

// BenchmarkUIWasmSize reports the bytes a browser downloads for app.wasm
// with each encoding the server offers, as served (pre-compressed copies
// chosen by Accept-Encoding), in MB (10^6 bytes).
func BenchmarkUIWasmSize(b *testing.B) {
	skipUIBench(b)
	srv := startServer(b)
	// DisableCompression: the transport must not add its own gzip and
	// decode the answer, or every size would read as raw.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	sizes := map[string]float64{}
	for range b.N {
		for _, enc := range []string{"identity", "gzip", "br"} {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/web/app.wasm", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Accept-Encoding", enc)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatalf("GET app.wasm (%s): %v", enc, err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				b.Fatalf("read app.wasm (%s): %v", enc, err)
			}
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("GET app.wasm (%s): %d: run make wasm first", enc, resp.StatusCode)
			}
			got := resp.Header.Get("Content-Encoding")
			if enc != "identity" && got != enc {
				b.Fatalf("Accept-Encoding %s answered with Content-Encoding %q", enc, got)
			}
			sizes[enc] = float64(n) / 1e6
		}
	}
	b.ReportMetric(sizes["identity"], "raw-MB")
	b.ReportMetric(sizes["gzip"], "gzip-MB")
	b.ReportMetric(sizes["br"], "br-MB")
	b.ReportMetric(0, "ns/op") // one measurement, not a timing
}

// The link the UI loads are measured over, through Chromium's network
// emulation: loopback would make the download of app.wasm free.
const (
	uiLinkMbit   = 20 // download, Mbit/s
	uiUplinkMbit = 5  // upload, Mbit/s
	uiLinkRTT    = 40 * time.Millisecond
)

// BenchmarkUILoad reports the cold load (a fresh profile: nothing cached,
// no service worker) and the warm load (a second navigation once the
// service worker controls the page and holds the shell and the wasm) to the
// first rendered page, in ms from the navigation's start, over an emulated
// link of uiLinkMbit with a round trip of uiLinkRTT.
func BenchmarkUILoad(b *testing.B) {
	skipUIBench(b)
	chromiumPath(b)
	srv := startServer(b)
	var cold, warm, wasmMB, wasmMs float64
	for range b.N {
		br := newBrowser(b)
		br.run("install the ready marker", chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := page.AddScriptToEvaluateOnNewDocument(uiReadyMarker).Do(ctx)
			return err
		}))
		br.run("emulate the link", chromedp.ActionFunc(func(ctx context.Context) error {
			if err := network.Enable().Do(ctx); err != nil {
				return err
			}
			return network.EmulateNetworkConditions(false, float64(uiLinkRTT.Milliseconds()), uiLinkMbit*1e6/8, uiUplinkMbit*1e6/8).Do(ctx)
		}))
		cold += loadTime(b, br, srv.URL+"/")
		var wasm struct{ Bytes, Ms float64 }
		br.eval("app.wasm transfer", `performance.getEntriesByType('resource')
			.filter(e => e.name.includes('app.wasm'))
			.reduce((a, e) => ({Bytes: a.Bytes + e.transferSize, Ms: a.Ms + e.responseEnd - e.startTime}), {Bytes: 0, Ms: 0})`, &wasm)
		wasmMB += wasm.Bytes / 1e6
		wasmMs += wasm.Ms
		var active bool
		br.eval("service worker ready", `Promise.race([
			navigator.serviceWorker.ready.then(r => !!r.active),
			new Promise(r => setTimeout(() => r(false), 30000))])`, &active)
		if !active {
			b.Fatal("no active service worker after the cold load: the warm load would not be warm")
		}
		// The worker claims the page once active; wait until it does.
		br.waitJS("the service worker controls the page", 30*time.Second, "navigator.serviceWorker.controller", "")
		warm += loadTime(b, br, srv.URL+"/")
		var controlled bool
		br.eval("warm load via the worker", "!!navigator.serviceWorker.controller", &controlled)
		if !controlled {
			b.Fatal("the warm load was not served under the service worker")
		}
		br.expectNoProblems("UI load")
	}
	b.ReportMetric(cold/float64(b.N), "cold-ms")
	b.ReportMetric(warm/float64(b.N), "warm-ms")
	b.ReportMetric(wasmMB/float64(b.N), "cold-wasm-transfer-MB")
	b.ReportMetric(wasmMs/float64(b.N), "cold-wasm-fetch-ms")
	b.ReportMetric(uiLinkMbit, "link-Mbit/s")
	b.ReportMetric(float64(uiLinkRTT.Milliseconds()), "rtt-ms")
	b.ReportMetric(0, "ns/op")
}

// loadTime navigates to u and returns when the app rendered, in ms after
// the navigation started (the page's own clock; see uiReadyMarker).
func loadTime(b *testing.B, br *browser, u string) float64 {
	b.Helper()
	br.navigate(u)
	br.waitJS("the app renders", uiTimeout, "window.__cnReady !== undefined", "document.body.innerText.slice(0, 200)")
	var ms float64
	br.eval("ready time", "window.__cnReady", &ms)
	return ms
}

// BenchmarkUIMainThread100 reports the main thread's work per second while
// the overview shows 100 containers whose stats update every second.
//
// The containers are simulated: 100 real helper containers would cost
// about as much CPU in the engine, the shims and the stats collector as the
// browser being measured, on the same two cores, and the figure is about
// the UI. The browser loads the real app from the real binary through a
// same-origin proxy that answers /docker/stats (100 frames a second, the
// wire.Stats shape) and /api/v1/containers (the same 100, so the overview's
// listing keeps them) itself and passes everything else on. The work is
// measured with the DevTools Performance domain over 10 s of updates:
// TaskDuration (all main-thread tasks: script, style, layout, paint) and
// ScriptDuration.
func BenchmarkUIMainThread100(b *testing.B) {
	skipUIBench(b)
	chromiumPath(b)
	const containers = 100
	const window = 10 * time.Second
	srv := startServer(b)
	fake := newFakeStats(b, srv, containers)

	var task, script float64
	for range b.N {
		br := newBrowser(b)
		br.navigate(fake.URL + "/")
		br.waitJS("100 containers on the overview", uiTimeout,
			fmt.Sprintf("document.querySelectorAll('#containers tbody tr').length >= %d", containers),
			"document.querySelectorAll('#containers tbody tr').length")
		// Let the charts fill a little and the page settle after the load.
		time.Sleep(3 * time.Second)
		before := perfMetrics(b, br)
		time.Sleep(window)
		after := perfMetrics(b, br)
		task += (after["TaskDuration"] - before["TaskDuration"]) * 1e3 / window.Seconds()
		script += (after["ScriptDuration"] - before["ScriptDuration"]) * 1e3 / window.Seconds()
		br.expectNoProblems("overview with 100 containers")
	}
	b.ReportMetric(task/float64(b.N), "main-thread-ms/s")
	b.ReportMetric(script/float64(b.N), "script-ms/s")
	b.ReportMetric(0, "ns/op")
}

// perfMetrics reads the DevTools Performance metrics of the tab (durations
// in seconds since the domain was enabled).
func perfMetrics(b *testing.B, br *browser) map[string]float64 {
	b.Helper()
	out := map[string]float64{}
	br.run("performance metrics", chromedp.ActionFunc(func(ctx context.Context) error {
		if err := performance.Enable().Do(ctx); err != nil {
			return fmt.Errorf("enable performance domain: %w", err)
		}
		ms, err := performance.GetMetrics().Do(ctx)
		if err != nil {
			return fmt.Errorf("get metrics: %w", err)
		}
		for _, m := range ms {
			out[m.Name] = m.Value
		}
		return nil
	}))
	return out
}

// fakeStats is the same-origin proxy of BenchmarkUIMainThread100.
type fakeStats struct {
	*httptest.Server
	n int
}

// newFakeStats serves n simulated containers in front of srv.
func newFakeStats(b *testing.B, srv *liveServer, n int) *fakeStats {
	b.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	// The Host header is kept (no Rewrite of it), so the real server's
	// Origin check sees the proxy's origin on both sides.
	proxy := httputil.NewSingleHostReverseProxy(target)
	f := &fakeStats{n: n}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /docker/stats", f.serveStats)
	mux.HandleFunc("GET /api/v1/containers", f.serveList)
	mux.Handle("/", proxy)
	f.Server = httptest.NewServer(mux)
	b.Cleanup(func() {
		f.CloseClientConnections()
		f.Close()
	})
	return f
}

// container is simulated container i.
func (f *fakeStats) container(i int) wire.ContainerSummary {
	return wire.ContainerSummary{
		ID:      fmt.Sprintf("%064x", i+1),
		Host:    "Localhost",
		Name:    fmt.Sprintf("bench-%03d", i),
		Image:   "crowsnest-helper:bench",
		State:   "running",
		Status:  "Up 5 minutes",
		Created: time.Now().Add(-5 * time.Minute),
	}
}

// serveList answers /api/v1/containers with the simulated containers.
func (f *fakeStats) serveList(w http.ResponseWriter, r *http.Request) {
	list := make([]wire.ContainerSummary, f.n)
	for i := range list {
		list[i] = f.container(i)
	}
	respond.JSON(w, http.StatusOK, list)
}

// serveStats is /docker/stats for the simulated containers: the greeting,
// then a frame per container every second, with values that change every
// time (so every sparkline redraws, the worst case).
func (f *fakeStats) serveStats(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the client
	}
	defer conn.CloseNow()
	ctx := conn.CloseRead(r.Context())
	send := func(v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode frame: %w", err)
		}
		return conn.Write(ctx, websocket.MessageText, data)
	}
	if send(wire.ConnectionEstablished) != nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for tick := 0; ; tick++ {
		for i := range f.n {
			c := f.container(i)
			phase := float64(tick+i) / 5
			s := wire.Stats{
				ID: c.ID, HostID: c.Host, Name: c.Name, Image: c.Image, Status: c.Status, State: c.State,
				CPUUsage:    10 + 8*math.Sin(phase),
				MemoryUsage: 20 + 5*math.Cos(phase),
				MemoryBytes: 64 << 20, MemoryLimit: 512 << 20,
				Timestamp: time.Now(),
			}
			if send(s) != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
