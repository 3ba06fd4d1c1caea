package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crowsnest-hq/crowsnest/server/auth"
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
		if c.Name == auth.SessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no %s cookie: %v", auth.SessionCookie, resp.Header.Values("Set-Cookie"))
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
		cleared = cleared || (c.Name == auth.SessionCookie && c.MaxAge < 0 && c.Value == "")
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
	srv := startServer(t, "--token", "admin:limit-admin-token-01", "--request-rate", "0.01", "--request-burst", "2")
	var last int
	for range 3 {
		resp, _ := getPage(t, noRedirect, postForm(t, srv.URL+"/login", url.Values{"token": {"guess"}}))
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("third login within the burst of 2: %d, want 429", last)
	}
}
