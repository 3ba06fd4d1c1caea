package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/server/ui"
	"github.com/crowsnest-hq/crowsnest/web"
)

// wasmBuilt reports whether this binary embeds the compiled app (as its
// compressed copies).
func wasmBuilt() bool {
	_, err := web.Files.ReadFile("app.wasm.gz")
	return err == nil
}

// embeddedWasm is the app as the binary embeds it: only compressed, so
// the raw bytes are the gzip copy's.
func embeddedWasm(t *testing.T) []byte {
	t.Helper()
	if _, err := web.Files.Open("app.wasm"); err == nil {
		t.Error("the binary embeds the raw app.wasm beside its compressed copies")
	}
	gz, err := web.Files.ReadFile("app.wasm.gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func get(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// A bare transport: the default one would ask for gzip itself and undo it.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestUIServesPrecompressedWasm(t *testing.T) {
	if !wasmBuilt() {
		t.Skip("web/app.wasm is not built (run make wasm); the not-built page is tested instead")
	}
	s := startServer(t)
	raw := embeddedWasm(t)
	etags := map[string]string{}
	for _, tc := range []struct{ accept, enc string }{
		{"gzip, deflate, br, zstd", "br"},
		{"gzip", "gzip"},
		{"br;q=0, gzip;q=0.8", "gzip"},
		{"", ""},
		{"identity", ""},
	} {
		resp, body := get(t, s.URL+"/web/app.wasm", http.Header{"Accept-Encoding": {tc.accept}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Accept-Encoding %q: status %d", tc.accept, resp.StatusCode)
		}
		h := resp.Header
		if got := h.Get("Content-Encoding"); got != tc.enc {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.accept, got, tc.enc)
		}
		if h.Get("Content-Type") != "application/wasm" {
			t.Errorf("Content-Type %q", h.Get("Content-Type"))
		}
		if h.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Vary %q", h.Get("Vary"))
		}
		if h.Get("Cache-Control") != "no-cache" {
			t.Errorf("Cache-Control %q", h.Get("Cache-Control"))
		}
		if got := h.Get(ui.WasmLengthHeader); got != strconv.Itoa(len(raw)) {
			t.Errorf("%s %q, want %d", ui.WasmLengthHeader, got, len(raw))
		}
		if h.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("Content-Length %q for %d bytes", h.Get("Content-Length"), len(body))
		}
		if tc.enc == "" && !bytes.Equal(body, raw) {
			t.Errorf("identity body is %d bytes, not the %d of the app", len(body), len(raw))
		}
		if tc.enc != "" && len(body) >= len(raw) {
			t.Errorf("%s body is %d bytes, not smaller than %d", tc.enc, len(body), len(raw))
		}
		etag := h.Get("ETag")
		if prev, ok := etags[tc.enc]; ok && prev != etag {
			t.Errorf("ETag of %q changed: %s then %s", tc.enc, prev, etag)
		}
		etags[tc.enc] = etag
		// Revalidation is a 304 without a body.
		resp, body = get(t, s.URL+"/web/app.wasm", http.Header{"Accept-Encoding": {tc.accept}, "If-None-Match": {etag}})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("If-None-Match %s: status %d with %d bytes", etag, resp.StatusCode, len(body))
		}
	}
	if etags["br"] == etags["gzip"] || etags["br"] == etags[""] {
		t.Errorf("encodings share an ETag: %v", etags)
	}
}

func TestUIPagesAndAssets(t *testing.T) {
	s := startServer(t)
	for _, p := range []string{"/", "/events", "/logs", "/stacks", "/store", "/containers/Localhost/abc123"} {
		resp, body := get(t, s.URL+p, nil)
		if !wasmBuilt() {
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "make wasm") {
				t.Errorf("%s without wasm: status %d, body %.200q", p, resp.StatusCode, body)
			}
			continue
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: status %d, type %q", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(string(body), `/wasm_exec.js`) || !strings.Contains(string(body), `manifest.webmanifest`) {
			t.Errorf("%s: page does not load the app: %.300q", p, body)
		}
	}
	for _, p := range []string{"/web/app.css", "/web/icon.svg", "/web/icon-192.png", "/web/icon-512.png"} {
		resp, _ := get(t, s.URL+p, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
			t.Errorf("%s: status %d, ETag %q", p, resp.StatusCode, resp.Header.Get("ETag"))
		}
	}
	if !wasmBuilt() {
		return
	}
	resp, body := get(t, s.URL+"/wasm_exec.js", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "globalThis.Go") {
		t.Errorf("/wasm_exec.js: status %d", resp.StatusCode)
	}
	resp, body = get(t, s.URL+"/manifest.webmanifest", nil)
	for _, want := range []string{`"short_name": "crowsnest"`, `"display": "standalone"`, `/web/icon-192.png`, `/web/icon-512.png`, `"start_url": "/"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("manifest lacks %s: %s", want, body)
		}
	}
	if strings.Contains(string(body), "https://") {
		t.Errorf("manifest names an outside URL: %s", body)
	}
	resp, body = get(t, s.URL+"/app-worker.js", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `addEventListener("fetch"`) || !strings.Contains(string(body), "/web/app.wasm") {
		t.Errorf("/app-worker.js: status %d: %.300s", resp.StatusCode, body)
	}
}

func TestUIDoesNotShadowAPI(t *testing.T) {
	s := startServer(t)
	resp, body := get(t, s.URL+"/api/v1/hosts", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("/api/v1/hosts: status %d, type %q: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = get(t, s.URL+"/api/v1/no-such-thing", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"message"`) {
		t.Errorf("unknown API path: status %d: %s", resp.StatusCode, body)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/events/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /events/ws: status %d, want 405 from the route table", r.StatusCode)
	}
	// /stacks is both a page and a socket: an upgrade gets the socket.
	c := dialWS(t, s.WS("/stacks"), nil)
	c.conn.Close(websocket.StatusNormalClosure, "")
	c = dialWS(t, s.WS("/events/ws"), nil)
	c.conn.Close(websocket.StatusNormalClosure, "")
}
