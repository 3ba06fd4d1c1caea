package api

import (
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// pageTestServer serves the whole HTTP surface with one token and no
// parts behind it: enough for the pages, which read only the route table
// and the request.
func pageTestServer(t *testing.T, token string) *httptest.Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	a, err := auth.New(auth.Options{Tokens: []string{token}}, log)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Logger: log, Auth: a, Site: auth.Site{Addr: "127.0.0.1:0"}}).Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// section is the HTML of the /api section with the given id, up to the
// next section.
func section(page, id string) string {
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	rest := page[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestAPIPageListsEveryRoute checks the reference against the route table
// itself: every route has its own section with method, path, scope,
// summary, parameters and an expanded example, and a row in the index.
func TestAPIPageListsEveryRoute(t *testing.T) {
	srv := pageTestServer(t, "admin:page-admin-token")
	resp, err := http.Get(srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api: %d\n%s", resp.StatusCode, page)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q: the page must run without any script", csp)
	}
	if strings.Contains(page, "<script") {
		t.Error("/api holds a <script>: it must work without JavaScript")
	}
	routes := Routes()
	if len(routes) == 0 {
		t.Fatal("empty route table")
	}
	for _, rt := range routes {
		id := routeAnchor(rt)
		sec := section(page, id)
		if sec == "" {
			t.Errorf("%s %s: no section id=%q on /api", rt.Method, rt.Path, id)
			continue
		}
		for what, want := range map[string]string{
			"method":  ">" + rt.Method + "<",
			"path":    ">" + html.EscapeString(rt.Path) + "<",
			"scope":   ">" + rt.Scope.String() + "<",
			"summary": html.EscapeString(rt.Doc().Summary),
			"params":  html.EscapeString(rt.Doc().Params),
		} {
			if !strings.Contains(sec, want) {
				t.Errorf("%s %s: section lacks its %s %q", rt.Method, rt.Path, what, want)
			}
		}
		if !strings.Contains(sec, `class="example"`) {
			t.Errorf("%s %s: no example", rt.Method, rt.Path)
		}
		if strings.Contains(sec, "{base}") || strings.Contains(sec, "{ws}") {
			t.Errorf("%s %s: example placeholders not expanded:\n%s", rt.Method, rt.Path, sec)
		}
		if rt.Scope != auth.ScopePublic && !strings.Contains(sec, "Authorization: Bearer "+tokenVar) {
			t.Errorf("%s %s needs %s but its example sends no token", rt.Method, rt.Path, rt.Scope)
		}
		if !strings.Contains(page, `href="#`+id+`"`) {
			t.Errorf("%s %s: no row in the index", rt.Method, rt.Path)
		}
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if !strings.Contains(page, "http://"+host+"/healthz") {
		t.Error("examples do not use the address the page was fetched at")
	}
}

// TestSessionCookieSecureOverTLS: served over TLS (or behind a trusted proxy
// that says so), the cookie is Secure.
func TestSessionCookieSecureOverTLS(t *testing.T) {
	s := &Server{}
	if c := s.sessionCookie(httptest.NewRequest(http.MethodPost, "https://example.test/login", nil), "x", 60); !c.Secure {
		t.Error("cookie over TLS is not Secure")
	}
	if c := s.sessionCookie(httptest.NewRequest(http.MethodPost, "http://example.test/login", nil), "x", 60); c.Secure {
		t.Error("cookie over plain http is Secure: the browser would drop it")
	}
	r := httptest.NewRequest(http.MethodPost, "http://example.test/login", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	if c := s.sessionCookie(r, "x", 60); c.Secure {
		t.Error("X-Forwarded-Proto trusted without --trusted-proxy")
	}
	s.proxies = auth.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	if c := s.sessionCookie(r, "x", 60); c.Secure {
		t.Error("X-Forwarded-Proto trusted from a peer that is not a named proxy")
	}
	r.RemoteAddr = "10.1.2.3:4567"
	if c := s.sessionCookie(r, "x", 60); !c.Secure {
		t.Error("X-Forwarded-Proto https behind a trusted proxy: cookie not Secure")
	}
}

// TestSafeNext keeps the login redirect on this server.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "/",
		"/":                 "/",
		"/events?x=1":       "/events?x=1",
		"//evil.example":    "/",
		"/\\evil.example":   "/",
		"https://evil.test": "/",
		"javascript:alert":  "/",
		"/a\r\nSet-Cookie:": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRouteExampleDerived: a route without an Example still gets a usable
// one, and examples gain the token header only where a credential is needed.
func TestRouteExampleDerived(t *testing.T) {
	cases := []struct {
		rt   Route
		want string
	}{
		{Route{Method: "GET", Path: "/x/ws", Stream: true}, "websocat 'ws://h/x/ws'"},
		{Route{Method: "GET", Path: "/x/stream", Stream: true}, "curl -N 'http://h/x/stream'"},
		{Route{Method: "GET", Path: "/x"}, "curl 'http://h/x'"},
		{Route{Method: "DELETE", Path: "/x/{id}"}, "curl -X DELETE 'http://h/x/{id}'"},
	}
	for _, c := range cases {
		if got := expandExample(routeExample(c.rt), "http://h", "ws://h", false); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.rt.Method, c.rt.Path, got, c.want)
		}
	}
	got := expandExample("curl {base}/x", "http://h", "ws://h", true)
	if want := `curl -H "Authorization: Bearer ` + tokenVar + `" http://h/x`; got != want {
		t.Errorf("with auth: %q, want %q", got, want)
	}
}
