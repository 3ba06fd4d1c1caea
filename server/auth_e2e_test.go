package main

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// TestAuthOnTheRunningServer drives the whole binary's routes with each kind
// of credential: bearer tokens by scope, Hyper.sh signatures, the session
// cookie, and Origin on websocket upgrades.
func TestAuthOnTheRunningServer(t *testing.T) {
	s := startServer(t,
		"--token", "read:reader-secret-0123456789", "--token", "admin:admin-secret-0123456789",
		"--hyper-key", "AKTEST:hyper-secret-0123456789",
		"--host", "Localhost=unix:///nonexistent/docker.sock")
	events := s.WS("/events/ws?since=1h") // replay works without an engine

	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	signed := func(secret string, at time.Time) http.Header {
		req, err := http.NewRequest("GET", strings.Replace(events, "ws://", "http://", 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		testenv.HyperSign(req, "AKTEST", secret, "us-west-1", at)
		return req.Header
	}
	withOrigin := func(h http.Header, origin string) http.Header {
		h = h.Clone()
		h.Set("Origin", origin)
		return h
	}
	cookie := http.Header{"Cookie": {auth.SessionCookie + "=" + loginSession(t, s.URL, "reader-secret-0123456789")}}

	sockets := []struct {
		name   string
		header http.Header
		want   int // 0: upgraded
	}{
		{"no credentials", nil, http.StatusUnauthorized},
		{"wrong token", bearer("nope"), http.StatusUnauthorized},
		{"read token", bearer("reader-secret-0123456789"), 0},
		{"admin token", bearer("admin-secret-0123456789"), 0},
		{"Hyper signature", signed("hyper-secret-0123456789", time.Now()), 0},
		{"Hyper signature, wrong secret", signed("not-the-secret", time.Now()), http.StatusUnauthorized},
		{"Hyper signature, expired", signed("hyper-secret-0123456789", time.Now().Add(-10*time.Minute)), http.StatusUnauthorized},
		{"token with a foreign Origin", withOrigin(bearer("reader-secret-0123456789"), "https://evil.example"), http.StatusForbidden},
		{"cookie from the same origin", withOrigin(cookie, s.URL), 0},
		{"cookie with a foreign Origin", withOrigin(cookie, "https://evil.example"), http.StatusForbidden},
	}
	for _, k := range sockets {
		t.Run("events/ws "+k.name, func(t *testing.T) {
			status, body := dialStatus(t, events, &websocket.DialOptions{HTTPHeader: k.header})
			if status != k.want {
				t.Errorf("status %d, want %d (%s)", status, k.want, body)
			}
		})
	}

	posts := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no credentials", nil, http.StatusUnauthorized},
		{"read token", bearer("reader-secret-0123456789"), http.StatusForbidden},
		{"admin token", bearer("admin-secret-0123456789"), http.StatusCreated},
	}
	for _, k := range posts {
		t.Run("POST events "+k.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", s.URL+"/api/v1/events", bytes.NewBufferString(`{"tags":["auth"]}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = k.header.Clone()
			if req.Header == nil {
				req.Header = http.Header{}
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != k.want {
				t.Errorf("status %d, want %d", resp.StatusCode, k.want)
			}
		})
	}
}

// TestStreamLimitAnswers429 opens more streams than one client may hold.
func TestStreamLimitAnswers429(t *testing.T) {
	s := startServer(t, "--max-streams", "2", "--host", "Localhost=unix:///nonexistent/docker.sock")
	url := s.WS("/events/ws?since=1h")
	dialWS(t, url, nil)
	dialWS(t, url, nil)
	status, body := dialStatus(t, url, nil)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "too many streams") {
		t.Fatalf("third stream: status %d (%s), want 429", status, body)
	}
}

// TestRequestRateAnswers429 exceeds the per-client request rate.
func TestRequestRateAnswers429(t *testing.T) {
	s := startServer(t, "--request-rate", "1", "--request-burst", "3", "--host", "Localhost=unix:///nonexistent/docker.sock")
	var last *http.Response
	for range 10 {
		resp, err := http.Get(s.URL + "/api/v1/hosts")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("after a burst: status %d, Retry-After %q; want 429 with Retry-After", last.StatusCode, last.Header.Get("Retry-After"))
	}
}

// loginSession logs in at base with token through the login form, as a
// browser does, and returns the session cookie's value.
func loginSession(t *testing.T, base, token string) string {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/login", url.Values{"token": {token}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == auth.SessionCookie && c.Value != "" {
			if c.Value == token {
				t.Fatal("the session cookie holds the token")
			}
			return c.Value
		}
	}
	t.Fatalf("login: %d, no %s cookie", resp.StatusCode, auth.SessionCookie)
	return ""
}

// sessionStatus is the status of GET /api/v1/hosts with session cookie id.
func sessionStatus(t *testing.T, base, id string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/hosts", nil)
	req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: id})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSessionsLiveInTheStore: a login's session survives a restart, ends
// with logout (a copy of the cookie is worthless afterwards), and ends when
// its token is no longer configured; the data directory holds neither the
// token nor the cookie's value.
func TestSessionsLiveInTheStore(t *testing.T) {
	args := []string{"--host", noEngine, "--request-rate", "0"}
	s := startServer(t, append(args, "--token", "read:session-reader-1", "--token", "admin:session-admin-0001")...)
	kept := loginSession(t, s.URL, "session-reader-1")
	dropped := loginSession(t, s.URL, "session-admin-0001")
	loggedOut := loginSession(t, s.URL, "session-reader-1")
	for _, id := range []string{kept, dropped, loggedOut} {
		if got := sessionStatus(t, s.URL, id); got != http.StatusOK {
			t.Fatalf("fresh session: %d, want 200", got)
		}
	}
	req, _ := http.NewRequest("POST", s.URL+"/logout", nil)
	req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: loggedOut})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d, want 303", resp.StatusCode)
	}
	if got := sessionStatus(t, s.URL, loggedOut); got != http.StatusUnauthorized {
		t.Errorf("session after logout: %d, want 401", got)
	}

	// Restarted without the admin token: its session is revoked, the
	// reader's lives on.
	s = restartServer(t, s, 0, append(args, "--token", "read:session-reader-1")...)
	if got := sessionStatus(t, s.URL, kept); got != http.StatusOK {
		t.Errorf("session after a restart: %d, want 200", got)
	}
	if got := sessionStatus(t, s.URL, dropped); got != http.StatusUnauthorized {
		t.Errorf("session of a removed token: %d, want 401", got)
	}
	s.Stop()
	db, err := os.ReadFile(filepath.Join(s.Data, "crowsnest.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"session-reader-1", "session-admin-0001", kept, dropped} {
		if bytes.Contains(db, []byte(secret)) {
			t.Errorf("the store file holds %.12s…", secret)
		}
	}
}
