package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestHostGuard: which Host names each kind of server answers.
func TestHostGuard(t *testing.T) {
	pub, _ := url.Parse("https://crowsnest.example.com")
	cases := []struct {
		name string
		cfg  Config
		host string
		want bool
	}{
		{"loopback: 127.0.0.1", Config{Addr: "127.0.0.1:8080"}, "127.0.0.1:8080", true},
		{"loopback: localhost, other port", Config{Addr: "127.0.0.1:8080"}, "localhost:9999", true},
		{"loopback: LOCALHOST.", Config{Addr: "127.0.0.1:8080"}, "LOCALHOST.:8080", true},
		{"loopback: [::1]", Config{Addr: "127.0.0.1:8080"}, "[::1]:8080", true},
		{"loopback: no Host (HTTP/1.0)", Config{Addr: "127.0.0.1:8080"}, "", true},
		{"loopback: a rebound name", Config{Addr: "127.0.0.1:8080"}, "evil.example:8080", false},
		{"loopback: a name ending in localhost", Config{Addr: "127.0.0.1:8080"}, "localhost.evil.example", false},
		{"loopback: another IP", Config{Addr: "127.0.0.1:8080"}, "10.0.0.1:8080", false},
		{"loopback: the listen address", Config{Addr: "127.0.0.2:8080"}, "127.0.0.2:8080", true},
		{"loopback: --allowed-host", Config{Addr: "127.0.0.1:8080", AllowedHosts: []string{"crowsnest.lan"}}, "Crowsnest.LAN:443", true},
		{"loopback: --public-url host", Config{Addr: "127.0.0.1:8080", PublicURLs: []*url.URL{pub}}, "crowsnest.example.com", true},
		{"loopback: --public-url, another name", Config{Addr: "127.0.0.1:8080", PublicURLs: []*url.URL{pub}}, "evil.example", false},
		{"public, nothing listed: any name", Config{Addr: "0.0.0.0:8080"}, "anything.example", true},
		{"public, names listed: another name", Config{Addr: "0.0.0.0:8080", AllowedHosts: []string{"crowsnest.lan"}}, "evil.example", false},
		{"public, names listed: the name", Config{Addr: "0.0.0.0:8080", AllowedHosts: []string{"crowsnest.lan"}}, "crowsnest.lan:8080", true},
		{"public, names listed: an IP literal", Config{Addr: "0.0.0.0:8080", AllowedHosts: []string{"crowsnest.lan"}}, "10.0.0.5:8080", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newHostGuard(c.cfg, slog.New(slog.DiscardHandler))
			if got := g.allows(c.host); got != c.want {
				t.Fatalf("Host %q on %s: served %v, want %v", c.host, c.cfg.Addr, got, c.want)
			}
		})
	}
}

// TestHostGuardAnswers421: a refused Host gets 421 with a message naming the
// fix, and the handler behind never runs.
func TestHostGuardAnswers421(t *testing.T) {
	ran := false
	h := newHostGuard(Config{Addr: "127.0.0.1:8080"}, slog.New(slog.DiscardHandler)).wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	r := httptest.NewRequest("POST", "http://evil.example:8080/api/v1/stacks", strings.NewReader("{}"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMisdirectedRequest || !strings.Contains(w.Body.String(), "--allowed-host") || ran {
		t.Fatalf("status %d body %s handler ran %v, want 421 naming --allowed-host and no handler", w.Code, w.Body, ran)
	}
}

// TestRequireContentType: a route's declared media types pass; anything
// else, and a body without a type, is 415 before the handler runs.
func TestRequireContentType(t *testing.T) {
	cases := []struct {
		accepts []string
		ctype   string
		body    string
		want    int
	}{
		{acceptJSON, "application/json", "{}", 200},
		{acceptJSON, "application/json; charset=utf-8", "{}", 200},
		{acceptJSON, "Application/JSON", "{}", 200},
		{acceptJSON, "text/plain", "{}", 415},
		{acceptJSON, "text/plain;charset=UTF-8", `{"name":"x"}`, 415},
		{acceptJSON, "application/x-www-form-urlencoded", "a=b", 415},
		{acceptJSON, "multipart/form-data; boundary=x", "--x--", 415},
		{acceptJSON, "", "{}", 415}, // a Blob body from fetch has no type
		{acceptJSON, "", "", 200},   // nothing to misread
		{acceptJSON, "application/json-evil", "{}", 415},
		{acceptJSONYAML, "application/x-yaml", "tags: [a]", 200},
		{acceptJSONYAML, "text/yaml", "tags: [a]", 200},
		{acceptForm, "application/x-www-form-urlencoded", "token=x", 200},
		{acceptForm, "text/plain", "token=x", 415},
		{nil, "text/plain", "anything", 200}, // a route without a body checks nothing
	}
	for _, c := range cases {
		ran := false
		h := requireContentType(c.accepts, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran = true }))
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		if c.ctype != "" {
			r.Header.Set("Content-Type", c.ctype)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want || ran != (c.want == 200) {
			t.Errorf("accepts %v, Content-Type %q, body %q: status %d (handler ran %v), want %d", c.accepts, c.ctype, c.body, w.Code, ran, c.want)
		}
	}
}

// TestBrowserHeadersOnOpenServer plays, with raw requests, what a foreign
// page, a rebound DNS name and a script send to an open loopback server:
// the first two change and read nothing, the script works as before.
func TestBrowserHeadersOnOpenServer(t *testing.T) {
	s := startServer(t, "--host", noEngine, "--request-rate", "0")
	stack := `{"name":"csrf","compose":"services:\n  web:\n    image: nginx\n"}`
	do := func(method, path, ctype, body string, hdr map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	foreign := map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}
	for _, c := range []struct {
		name             string
		method, path, ct string
		body             string
		hdr              map[string]string
		want             int
	}{
		{"foreign page, text/plain stack", "POST", "/api/v1/stacks", "text/plain", stack, foreign, 403},
		{"foreign page, JSON stack (no-cors cannot, but a proxy could)", "POST", "/api/v1/stacks", "application/json", stack, foreign, 403},
		{"foreign page, body-less deploy", "POST", "/api/v1/stacks/1/deploy", "", "", foreign, 403},
		{"foreign page, restart", "POST", "/api/v1/containers/web/restart", "", "", foreign, 403},
		{"foreign page, event", "POST", "/api/v1/events", "text/plain", `{"tags":["x"]}`, foreign, 403},
		{"old browser: Origin only", "POST", "/api/v1/events", "application/json", `{"tags":["x"]}`, map[string]string{"Origin": "http://evil.example"}, 403},
		{"cross-site Sec-Fetch-Site only", "DELETE", "/api/v1/stacks/1", "", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"rebound name, same-origin by its own account", "POST", "/api/v1/stacks", "application/json", stack, map[string]string{"Host": "rebind.example:8080", "Origin": "http://rebind.example:8080", "Sec-Fetch-Site": "same-origin"}, 421},
		{"rebound name, read", "GET", "/api/v1/containers", "", "", map[string]string{"Host": "rebind.example"}, 421},
		{"script, text/plain stack", "POST", "/api/v1/stacks", "text/plain", stack, nil, 415},
		{"script, untyped event", "POST", "/api/v1/events", "", `{"tags":["x"]}`, nil, 415},
	} {
		if got, body := do(c.method, c.path, c.ct, c.body, c.hdr); got != c.want {
			t.Errorf("%s: %s %s → %d %s, want %d", c.name, c.method, c.path, got, body, c.want)
		}
	}
	// Nothing of the above was stored.
	if _, body := do("GET", "/api/v1/events?tag=x", "", "", nil); body != "[]" && !strings.HasPrefix(body, "[]") {
		t.Errorf("events stored by refused requests: %s", body)
	}
	// The same requests without browser headers, or from the UI's own
	// origin, work.
	own := map[string]string{"Origin": s.URL, "Sec-Fetch-Site": "same-origin"}
	if got, body := do("POST", "/api/v1/events", "application/json", `{"tags":["x"]}`, own); got != http.StatusCreated {
		t.Errorf("same-origin event: %d %s", got, body)
	}
	if got, body := do("POST", "/api/v1/events", "application/json", `{"tags":["x"]}`, nil); got != http.StatusCreated {
		t.Errorf("script event: %d %s", got, body)
	}
	if got, body := do("POST", "/api/v1/events", "application/json", `{"tags":["x"]}`, map[string]string{"Host": "localhost"}); got != http.StatusCreated {
		t.Errorf("event via localhost: %d %s", got, body)
	}
}

// TestPublicURLTrustedOrigin: a page at --public-url (a proxy's origin,
// which differs from the Host crowsnest sees) may post.
func TestPublicURLTrustedOrigin(t *testing.T) {
	s := startServer(t, "--host", noEngine, "--request-rate", "0", "--public-url", "https://crowsnest.example.com")
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/events", strings.NewReader(`{"tags":["x"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://crowsnest.example.com")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("post from the public URL's origin: %d, want 201", resp.StatusCode)
	}
}
