// Package ui serves the web UI: the go-app pages with their manifest and
// service worker, and the assets of web/ embedded in the binary.
package ui

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/server/respond"
	"github.com/crowsnest-hq/crowsnest/web"
)

// WasmLengthHeader carries app.wasm's uncompressed size. go-app's loader
// counts decompressed bytes while it streams the wasm, so a progress bar
// computed against the compressed Content-Length would overshoot 100 %.
const WasmLengthHeader = "X-Wasm-Content-Length"

// uiPagePaths are the UI's own pages. They are also the paths the service
// worker answers from its cache when the server is unreachable, and they win
// over an API route of the same path unless the request is a websocket
// upgrade (GET /stacks is both the stacks page and the DockStat stack socket).
var uiPagePaths = []string{"/", "/events", "/logs", "/stacks", "/store", "/alerts"}

// uiPagePrefix is the container page, /containers/{host}/{id}.
const uiPagePrefix = "/containers/"

// IsPage reports whether p is one of the UI's pages.
func IsPage(p string) bool {
	for _, pp := range uiPagePaths {
		if p == pp {
			return true
		}
	}
	rest, ok := strings.CutPrefix(p, uiPagePrefix)
	return ok && strings.Count(rest, "/") == 1 && !strings.HasPrefix(rest, "/") && !strings.HasSuffix(rest, "/")
}

// asset is one embedded file and the pre-compressed copies make wasm wrote
// beside it. The bytes stay in the binary's read-only data: embed.FS.ReadFile
// would copy them to the heap (about 20 MB for the wasm and its copies), so
// files are opened and streamed instead.
//
// app.wasm is embedded only as its copies (gzipOnly): the raw file would
// add 9.7 MB to the binary for the rare client that accepts neither brotli
// nor gzip, which gets the gzip copy decompressed as it is sent instead.
type asset struct {
	name     string // file name in web.Files (absent when gzipOnly)
	ctype    string
	size     int64 // of the uncompressed file
	encs     []encoding
	gzipOnly bool // only the copies are embedded
	once     sync.Once
	etag     string // of the content, taken on first use so start-up reads nothing
	err      error
}

// encoding is a pre-compressed copy of an asset.
type encoding struct {
	coding string // as in Content-Encoding: br or gzip
	name   string // file name in web.Files
}

// etagOf is the asset's strong ETag (without quotes) from a hash of its
// content (of the gzip copy, when that is all there is: make wasm writes it
// reproducibly); an encoded copy appends its coding. A changed file gets a
// new ETag, so an unchanged one costs the browser or the service worker a
// 304.
func (a *asset) etagOf() (string, error) {
	a.once.Do(func() {
		name := a.name
		if a.gzipOnly {
			name += ".gz"
		}
		f, err := web.Files.Open(name)
		if err != nil {
			a.err = fmt.Errorf("open embedded %s: %w", name, err)
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			a.err = fmt.Errorf("hash embedded %s: %w", name, err)
			return
		}
		a.etag = hex.EncodeToString(h.Sum(nil)[:12])
	})
	return a.etag, a.err
}

// Handler serves the web UI: the go-app pages, manifest and service
// worker, and the embedded /web/ assets.
type Handler struct {
	assets  map[string]*asset // by URL path: /web/app.css, /wasm_exec.js
	version string            // hash of every embedded asset: the service worker's cache name
	ready   bool              // app.wasm and wasm_exec.js were embedded
	goapp   *app.Handler
	loadErr error // why the assets could not be read; nil when they were
}

// registerShellRoutes tells go-app which paths are pages. go-app's router is
// package-global and servePage answers 404 for a path it does not know, so
// the server registers them too, with a small shell that stands in until the
// wasm app takes over the body. The server never imports the app itself.
var registerShellRoutes = sync.OnceFunc(func() {
	for _, p := range uiPagePaths {
		app.Route(p, &uiShell{})
	}
	app.RouteWithRegexp(`^/containers/[^/]+/[^/]+$`, &uiShell{})
})

// New reads the embedded assets. A build without app.wasm serves a
// page saying how to build it; an asset that cannot be read (a broken build)
// is logged and the UI answers 500 with the cause, while the API keeps
// working.
func New(log *slog.Logger) *Handler {
	u, err := loadUI()
	if err != nil {
		log.Error("web UI unavailable", "err", err)
		return &Handler{loadErr: err}
	}
	return u
}

// loadUI lists the embedded assets and sets up go-app's handler.
func loadUI() (*Handler, error) {
	registerShellRoutes()
	u := &Handler{assets: map[string]*asset{}, version: "unbuilt"}
	names, err := fs.Glob(web.Files, "*")
	if err != nil {
		return nil, fmt.Errorf("list embedded web assets: %w", err)
	}
	for _, name := range names {
		ext := path.Ext(name)
		if ext == ".go" || ext == ".br" || name == versionFile {
			continue // not assets: Go source, the version, copies listed with their original
		}
		if ext == ".gz" {
			name = strings.TrimSuffix(name, ext)
			if slices.Contains(names, name) {
				continue // listed with its original
			}
		}
		a, err := statAsset(name)
		if err != nil {
			return nil, err
		}
		urlPath := "/web/" + name
		if name == "wasm_exec.js" {
			urlPath = "/wasm_exec.js" // where go-app's page loads it from
		}
		u.assets[urlPath] = a
	}
	if v, err := fs.ReadFile(web.Files, versionFile); err == nil {
		u.version = strings.TrimSpace(string(v))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read embedded %s: %w", versionFile, err)
	}
	u.ready = u.assets["/web/app.wasm"] != nil && u.assets["/wasm_exec.js"] != nil
	u.goapp = &app.Handler{
		Name:            "crowsnest",
		ShortName:       "crowsnest",
		Title:           "crowsnest",
		Description:     "Container events, live stats, logs, compose stacks and a durable event store for your Docker engines.",
		Lang:            "en",
		BackgroundColor: "#0e1f35",
		ThemeColor:      "#1d3a5f",
		LoadingLabel:    "Loading crowsnest… {progress}%",
		Icon: app.Icon{
			Default: "/web/icon-192.png",
			Large:   "/web/icon-512.png",
			SVG:     "/web/icon.svg",
		},
		Styles: []string{"/web/app.css"},
		RawHeaders: []string{
			`<meta name="color-scheme" content="light dark">`,
			// app.js only asks for the wasm once the deferred scripts
			// have run, a round trip after the page; this starts the
			// longest download at once, and app.js's fetch (same URL,
			// mode and credentials) takes the preloaded answer.
			`<link rel="preload" href="/web/app.wasm" as="fetch" crossorigin="anonymous" fetchpriority="high">`,
		},
		Version:                 u.version,
		WasmContentLengthHeader: WasmLengthHeader,
		Resources:               uiResources{},
		ServiceWorkerTemplate:   serviceWorkerJS,
	}
	return u, nil
}

// versionFile is written by make wasm: a hash of every asset, so the
// service worker's cache (named after it) changes exactly when they do.
const versionFile = "version.txt"

// statAsset describes one embedded file and the copies beside it; for a
// file embedded only as copies the size is the gzip copy's.
func statAsset(name string) (*asset, error) {
	a := &asset{name: name, ctype: contentType(name)}
	info, err := fs.Stat(web.Files, name)
	switch {
	case err == nil:
		a.size = info.Size()
	case errors.Is(err, fs.ErrNotExist):
		a.gzipOnly = true
		if a.size, err = gzipSize(name + ".gz"); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("stat embedded %s: %w", name, err)
	}
	for _, e := range []encoding{{"br", name + ".br"}, {"gzip", name + ".gz"}} {
		_, err := fs.Stat(web.Files, e.name)
		if err == nil {
			a.encs = append(a.encs, e)
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) { // the copies are optional: a wasm built by hand has none
			return nil, fmt.Errorf("stat embedded %s: %w", e.name, err)
		}
	}
	return a, nil
}

// gzipSize is the uncompressed size a gzip file records in its last four
// bytes (ISIZE, RFC 1952: little-endian, modulo 2^32, which no asset nears).
func gzipSize(name string) (int64, error) {
	f, err := web.Files.Open(name)
	if err != nil {
		return 0, fmt.Errorf("open embedded %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat embedded %s: %w", name, err)
	}
	ra, ok := f.(io.ReaderAt)
	if !ok || info.Size() < 18 { // a gzip header and trailer take 18 bytes
		return 0, fmt.Errorf("embedded %s is not a gzip file", name)
	}
	var isize [4]byte
	if _, err := ra.ReadAt(isize[:], info.Size()-4); err != nil {
		return 0, fmt.Errorf("read embedded %s: %w", name, err)
	}
	return int64(binary.LittleEndian.Uint32(isize[:])), nil
}

// contentType is the media type of an asset by its extension; a fixed table,
// because the host's mime database may lack application/wasm, which
// WebAssembly.instantiateStreaming insists on.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".wasm":
		return "application/wasm"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".json", ".webmanifest":
		return "application/manifest+json"
	default:
		return "application/octet-stream"
	}
}

// ServeHTTP answers the UI's paths; anything else is the API's JSON 404.
func (u *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u.loadErr != nil {
		respond.Error(w, http.StatusInternalServerError, "web UI unavailable: "+u.loadErr.Error())
		return
	}
	p := r.URL.Path
	switch p {
	case "/app.wasm", "/goapp.wasm": // go-app's aliases of the wasm
		p = "/web/app.wasm"
	case "/favicon.ico": // asked for by every browser, whatever the page links
		p = "/web/icon-192.png"
	}
	if a, ok := u.assets[p]; ok {
		u.serveAsset(w, r, p, a)
		return
	}
	switch {
	case IsPage(p):
		if !u.ready {
			u.serveNotBuilt(w)
			return
		}
		u.goapp.ServeHTTP(w, r)
	case p == "/app.js", p == "/goapp.js", p == "/app-worker.js", p == "/manifest.webmanifest", p == "/manifest.json", p == "/app.css":
		u.goapp.ServeHTTP(w, r)
	case p == "/web/app.wasm":
		respond.Error(w, http.StatusNotFound, "app.wasm is not built into this binary: run make wasm, then rebuild crowsnest")
	default:
		respond.Error(w, http.StatusNotFound, "no such endpoint: "+p)
	}
}

// serveAsset sends a, pre-compressed when the client accepts it.
// Cache-Control: no-cache makes every use a cheap conditional request: the
// ETag changes with the content, so an unchanged asset costs a 304.
func (u *Handler) serveAsset(w http.ResponseWriter, r *http.Request, p string, a *asset) {
	etag, err := a.etagOf()
	if err != nil {
		respond.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	file, coding := a.name, ""
	h := w.Header()
	if len(a.encs) > 0 {
		h.Set("Vary", "Accept-Encoding")
		accepted := acceptedEncodings(r.Header.Get("Accept-Encoding"))
		for _, e := range a.encs {
			if accepted[e.coding] {
				file, coding = e.name, e.coding
				etag += "-" + e.coding
				h.Set("Content-Encoding", e.coding)
				break
			}
		}
	}
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", `"`+etag+`"`)
	if path.Ext(p) == ".wasm" {
		h.Set(WasmLengthHeader, strconv.FormatInt(a.size, 10))
	}
	if etagMatches(r.Header.Get("If-None-Match"), `"`+etag+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if coding == "" && a.gzipOnly {
		file += ".gz"
	}
	f, err := web.Files.Open(file)
	if err != nil {
		respond.Error(w, http.StatusInternalServerError, fmt.Sprintf("open embedded %s: %v", file, err))
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		respond.Error(w, http.StatusInternalServerError, fmt.Sprintf("stat embedded %s: %v", file, err))
		return
	}
	size, body := info.Size(), io.Reader(f)
	if coding == "" && a.gzipOnly {
		zr, err := gzip.NewReader(f)
		if err != nil {
			respond.Error(w, http.StatusInternalServerError, fmt.Sprintf("read embedded %s: %v", file, err))
			return
		}
		size, body = a.size, zr
	}
	// Written here rather than with http.ServeContent, which drops
	// Content-Length whenever Content-Encoding is set.
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, body); err != nil {
		slog.Debug("write web asset", "path", p, "coding", coding, "err", err)
	}
}

// etagMatches reports whether an If-None-Match header names etag (or "*").
func etagMatches(header, etag string) bool {
	for cand := range strings.SplitSeq(header, ",") {
		cand = strings.TrimPrefix(strings.TrimSpace(cand), "W/")
		if cand == etag || cand == "*" {
			return true
		}
	}
	return false
}

// acceptedEncodings reads an Accept-Encoding header: the codings with a
// non-zero quality.
func acceptedEncodings(header string) map[string]bool {
	out := map[string]bool{}
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		out[name] = true
	}
	return out
}

// serveNotBuilt is the page a binary built before `make wasm` shows instead
// of the UI: the API still works, and the page says how to get the UI.
func (u *Handler) serveNotBuilt(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprint(w, notBuiltPage)
}

const notBuiltPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>crowsnest: web UI not built</title><link rel="stylesheet" href="/web/app.css"></head>
<body><main class="page notbuilt"><h1>The web UI is not built into this binary</h1>
<p>Run <code>make wasm</code> in the crowsnest checkout, then build crowsnest again
(<code>make build</code> or <code>make run</code> do both).</p>
<p>The API works without it: see <a href="/api">/api</a>.</p></main></body></html>
`

// uiResources tells go-app where its files are: the package files (app.js,
// the manifest, the worker) at the root and static files under /web/. It is
// deliberately not an http.Handler, so go-app never reads the working
// directory: Handler serves /web/ from the embedded files.
type uiResources struct{}

// Package is the path prefix of go-app's own files: the root.
func (uiResources) Package() string { return "" }

// Static is the path prefix of /web/: the root.
func (uiResources) Static() string { return "" }

// AppWASM is where the compiled app is served.
func (uiResources) AppWASM() string { return "/web/app.wasm" }

// uiShell is what the server renders for a page before the wasm app starts:
// the brand bar and a loading line, so the first paint is not blank and a
// browser without JavaScript learns why nothing happens.
type uiShell struct {
	app.Compo
}

// Render draws the shell.
func (s *uiShell) Render() app.UI {
	return app.Div().Class("shell").Body(
		app.Header().Class("topbar").Body(
			app.A().Class("brand").Href("/").Body(
				app.Img().Src("/web/icon.svg").Alt("").Width(28).Height(28),
				app.Span().Text("crowsnest"),
			),
		),
		app.Main().Class("page").Body(
			app.P().Class("muted").Text("Starting the crowsnest app…"),
			app.Raw(`<noscript><p>The crowsnest UI needs JavaScript and WebAssembly. The API reference is at <a href="/api">/api</a>.</p></noscript>`),
		),
	)
}

// serviceWorkerJS replaces go-app's worker (its template fields are the
// same). go-app's answers every GET from the cache first and knows only "/"
// as a page; this one keeps the shell cache-first, sends API calls, sockets
// and streams straight to the network, and answers a navigation to any UI
// page with the cached shell when the server is unreachable, so the app
// starts offline and says so instead of showing the browser's error page.
const serviceWorkerJS = `// crowsnest service worker, version {{.Version}}
const cacheName = "crowsnest-{{.Version}}";
const resourcesToCache = {{.ResourcesToCache}};
const pagePath = /^\/(events|logs|stacks|store|containers\/[^/]+\/[^/]+)?$/;

// Each file is cached on its own: cache.addAll fails the whole install when
// one file fails (a 404 while a deploy is half done), which left the app
// with no offline shell at all. A file that failed is fetched from the
// network when it is asked for, and cached by the next version's install.
self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(cacheName)
      .then((cache) => Promise.all(resourcesToCache.map((url) =>
        cache.add(url).catch((err) => console.warn("crowsnest service worker: not cached: " + url + ": " + err)))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== cacheName).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") {
    return;
  }
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (req.mode === "navigate" && pagePath.test(url.pathname)) {
    event.respondWith(fetch(req).catch(() => caches.match("/")));
    return;
  }
  if (!resourcesToCache.includes(url.pathname)) {
    return;
  }
  event.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
});
`
