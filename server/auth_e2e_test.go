package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestAuthOnTheRunningServer drives the whole binary's routes with each kind
// of credential: bearer tokens by scope, Hyper.sh signatures, the session
// cookie, and Origin on websocket upgrades.
func TestAuthOnTheRunningServer(t *testing.T) {
	s := startServer(t,
		"--token", "read:reader-secret", "--token", "admin:admin-secret",
		"--hyper-key", "AKTEST:hyper-secret",
		"--host", "Localhost=unix:///nonexistent/docker.sock")
	events := s.WS("/events/ws?since=1h") // replay works without an engine

	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	signed := func(secret string, at time.Time) http.Header {
		req, err := http.NewRequest("GET", strings.Replace(events, "ws://", "http://", 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		hyperClientSign(req, "AKTEST", secret, "us-west-1", at)
		return req.Header
	}
	withOrigin := func(h http.Header, origin string) http.Header {
		h = h.Clone()
		h.Set("Origin", origin)
		return h
	}
	cookie := http.Header{"Cookie": {"crowsnest_session=reader-secret"}}

	sockets := []struct {
		name   string
		header http.Header
		want   int // 0: upgraded
	}{
		{"no credentials", nil, http.StatusUnauthorized},
		{"wrong token", bearer("nope"), http.StatusUnauthorized},
		{"read token", bearer("reader-secret"), 0},
		{"admin token", bearer("admin-secret"), 0},
		{"Hyper signature", signed("hyper-secret", time.Now()), 0},
		{"Hyper signature, wrong secret", signed("not-the-secret", time.Now()), http.StatusUnauthorized},
		{"Hyper signature, expired", signed("hyper-secret", time.Now().Add(-10*time.Minute)), http.StatusUnauthorized},
		{"token with a foreign Origin", withOrigin(bearer("reader-secret"), "https://evil.example"), http.StatusForbidden},
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
		{"read token", bearer("reader-secret"), http.StatusForbidden},
		{"admin token", bearer("admin-secret"), http.StatusCreated},
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
