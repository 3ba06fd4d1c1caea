package main

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// noRedirect is a client that shows redirects instead of following them,
// so a test can read the 303 and its Set-Cookie.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// getPage fetches path with net/http (no JavaScript anywhere) and returns
// the response and its body.
func getPage(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", req.URL, err)
	}
	return resp, string(body)
}

// newReq builds a request or fails the test.
func newReq(t *testing.T, method, u string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// postForm builds a urlencoded POST.
func postForm(t *testing.T, u string, form url.Values) *http.Request {
	t.Helper()
	req := newReq(t, http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
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
	srv := startServer(t, "--token", "admin:page-admin-token")
	resp, page := getPage(t, http.DefaultClient, newReq(t, http.MethodGet, srv.URL+"/api", nil))
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
	routes := (&Server{}).routes()
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
			"summary": html.EscapeString(rt.Summary),
			"params":  html.EscapeString(rt.Params),
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
		if rt.Scope != scopePublic && !strings.Contains(sec, "Authorization: Bearer "+tokenVar) {
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

// TestLoginFlow drives the login page with plain HTTP, as a browser without
// JavaScript would: form, wrong token, right token, cookie, logout.
func TestLoginFlow(t *testing.T) {
	const admin = "login-admin-token"
	srv := startServer(t, "--token", "admin:"+admin, "--token", "read:login-read-token")

	resp, page := getPage(t, http.DefaultClient, newReq(t, http.MethodGet, srv.URL+"/login", nil))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<form method="post" action="/login">`) || !strings.Contains(page, `name="token"`) {
		t.Fatalf("GET /login: %d, no token form:\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, "<script") {
		t.Error("/login holds a <script>: it must work without JavaScript")
	}

	resp, page = getPage(t, noRedirect, postForm(t, srv.URL+"/login", url.Values{"token": {"wrong"}}))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", resp.StatusCode)
	}
	if !strings.Contains(page, "That token is not valid.") || !strings.Contains(page, `name="token"`) {
		t.Errorf("wrong token: the form with an error should come back:\n%s", page)
	}
	if len(resp.Cookies()) != 0 {
		t.Errorf("wrong token set cookies: %v", resp.Cookies())
	}

	resp, _ = getPage(t, noRedirect, postForm(t, srv.URL+"/login", url.Values{"token": {admin}, "next": {"//evil.example/"}}))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("right token: %d Location %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no %s cookie: %v", sessionCookie, resp.Header.Values("Set-Cookie"))
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" || session.Secure || session.Value == admin || len(session.Value) < 40 {
		t.Errorf("cookie %s: want a session id (not the token), HttpOnly, SameSite=Strict, Path=/, not Secure over http", resp.Header.Get("Set-Cookie"))
	}

	// The cookie is a credential for the API.
	req := newReq(t, http.MethodGet, srv.URL+"/api/v1/hosts", nil)
	if resp, body := getPage(t, http.DefaultClient, req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("hosts without cookie: %d %s, want 401", resp.StatusCode, body)
	}
	req.AddCookie(session)
	if resp, body := getPage(t, http.DefaultClient, req); resp.StatusCode != http.StatusOK {
		t.Errorf("hosts with the session cookie: %d %s", resp.StatusCode, body)
	}
	req = newReq(t, http.MethodGet, srv.URL+"/login", nil)
	req.AddCookie(session)
	if _, page := getPage(t, http.DefaultClient, req); !strings.Contains(page, "logged in with a <strong>admin</strong> token") {
		t.Errorf("/login with a session does not say so:\n%s", page)
	}

	req = postForm(t, srv.URL+"/logout", nil)
	req.AddCookie(session)
	resp, _ = getPage(t, noRedirect, req)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("logout: %d Location %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || (c.Name == sessionCookie && c.MaxAge < 0 && c.Value == "")
	}
	if !cleared {
		t.Errorf("logout does not clear the cookie: %v", resp.Header.Values("Set-Cookie"))
	}

	// A foreign page may not log a user in (with its own token) or out.
	req = postForm(t, srv.URL+"/login", url.Values{"token": {admin}})
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := getPage(t, noRedirect, req); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("cross-origin login: %d cookies %v, want 403 and none", resp.StatusCode, resp.Cookies())
	}
}

// TestLoginWithoutAuth: with no credentials configured the page says so.
func TestLoginWithoutAuth(t *testing.T) {
	srv := startServer(t)
	resp, page := getPage(t, http.DefaultClient, newReq(t, http.MethodGet, srv.URL+"/login", nil))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "No authentication is configured") {
		t.Errorf("GET /login without auth: %d\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, `name="token"`) {
		t.Error("a token field on a server without auth")
	}
}

// TestLoginRateLimited: the login routes sit behind the same per-client
// limits as every route, so tokens cannot be guessed at line speed.
func TestLoginRateLimited(t *testing.T) {
	srv := startServer(t, "--token", "admin:limit-token", "--request-rate", "0.01", "--request-burst", "2")
	var last int
	for range 3 {
		resp, _ := getPage(t, noRedirect, postForm(t, srv.URL+"/login", url.Values{"token": {"guess"}}))
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("third login within the burst of 2: %d, want 429", last)
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
	s.cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
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
		rt   route
		want string
	}{
		{route{Method: "GET", Path: "/x/ws", Stream: true}, "websocat 'ws://h/x/ws'"},
		{route{Method: "GET", Path: "/x/stream", Stream: true}, "curl -N 'http://h/x/stream'"},
		{route{Method: "GET", Path: "/x"}, "curl 'http://h/x'"},
		{route{Method: "DELETE", Path: "/x/{id}"}, "curl -X DELETE 'http://h/x/{id}'"},
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
