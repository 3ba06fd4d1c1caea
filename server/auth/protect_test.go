package auth

import (
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
		cfg  Site
		host string
		want bool
	}{
		{"loopback: 127.0.0.1", Site{Addr: "127.0.0.1:8080"}, "127.0.0.1:8080", true},
		{"loopback: localhost, other port", Site{Addr: "127.0.0.1:8080"}, "localhost:9999", true},
		{"loopback: LOCALHOST.", Site{Addr: "127.0.0.1:8080"}, "LOCALHOST.:8080", true},
		{"loopback: [::1]", Site{Addr: "127.0.0.1:8080"}, "[::1]:8080", true},
		{"loopback: no Host (HTTP/1.0)", Site{Addr: "127.0.0.1:8080"}, "", true},
		{"loopback: a rebound name", Site{Addr: "127.0.0.1:8080"}, "evil.example:8080", false},
		{"loopback: a name ending in localhost", Site{Addr: "127.0.0.1:8080"}, "localhost.evil.example", false},
		{"loopback: another IP", Site{Addr: "127.0.0.1:8080"}, "10.0.0.1:8080", false},
		{"loopback: the listen address", Site{Addr: "127.0.0.2:8080"}, "127.0.0.2:8080", true},
		{"loopback: --allowed-host", Site{Addr: "127.0.0.1:8080", AllowedHosts: []string{"crowsnest.lan"}}, "Crowsnest.LAN:443", true},
		{"loopback: --public-url host", Site{Addr: "127.0.0.1:8080", PublicURLs: []*url.URL{pub}}, "crowsnest.example.com", true},
		{"loopback: --public-url, another name", Site{Addr: "127.0.0.1:8080", PublicURLs: []*url.URL{pub}}, "evil.example", false},
		{"public, nothing listed: any name", Site{Addr: "0.0.0.0:8080"}, "anything.example", true},
		{"public, names listed: another name", Site{Addr: "0.0.0.0:8080", AllowedHosts: []string{"crowsnest.lan"}}, "evil.example", false},
		{"public, names listed: the name", Site{Addr: "0.0.0.0:8080", AllowedHosts: []string{"crowsnest.lan"}}, "crowsnest.lan:8080", true},
		{"public, names listed: an IP literal", Site{Addr: "0.0.0.0:8080", AllowedHosts: []string{"crowsnest.lan"}}, "10.0.0.5:8080", true},
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
	h := newHostGuard(Site{Addr: "127.0.0.1:8080"}, slog.New(slog.DiscardHandler)).wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	r := httptest.NewRequest("POST", "http://evil.example:8080/api/v1/stacks", strings.NewReader("{}"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMisdirectedRequest || !strings.Contains(w.Body.String(), "--allowed-host") || ran {
		t.Fatalf("status %d body %s handler ran %v, want 421 naming --allowed-host and no handler", w.Code, w.Body, ran)
	}
}

// Media types as the route table declares them.
var (
	acceptJSON     = []string{"application/json"}
	acceptJSONYAML = []string{"application/json", "application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml"}
	acceptForm     = []string{"application/x-www-form-urlencoded"}
)

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
		h := RequireContentType(c.accepts, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran = true }))
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
