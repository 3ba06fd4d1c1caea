package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/server/api"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// Secrets of the matrix server. Each is distinctive, so finding one in a log
// or a metric cannot be a coincidence.
const (
	matrixRead        = "mtx-read-7f3a9c21e5b84d06"
	matrixAdmin       = "mtx-admin-2b8e61f4d09a7c35"
	matrixWrong       = "mtx-wrong-9d4c7a2e61f03b58" // a mistyped token is someone's secret too
	matrixHyperRead   = "mtx-hyper-read-0c5e8b7a3f"
	matrixHyperAdmin  = "mtx-hyper-admin-6a1d4f9c2e"
	matrixHyperForged = "mtx-hyper-forged-3e7b0d5a8c"
)

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServerLogged is startServer with the server's stderr (its log) kept
// for the test to search, at debug level so every refusal is logged.
func startServerLogged(t *testing.T, args ...string) (*liveServer, *syncBuffer) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &liveServer{t: t, URL: "http://" + addr, Data: t.TempDir(), stop: cancel, done: make(chan error, 1)}
	logs := &syncBuffer{}
	all := append([]string{"--addr", addr, "--data", s.Data, "--log-level", "debug"}, args...)
	go func() { s.done <- run(ctx, all, os.Getenv, logs) }()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, logs
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("crowsnest exited at start: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("crowsnest did not answer /healthz: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// concretePath fills a route pattern's wildcards with values that reach the
// handler: stack 1, the deploy action, container "matrix".
func concretePath(p string) string {
	return strings.NewReplacer("{id}", "1", "{action}", "deploy", "{name}", "1").Replace(p)
}

// matrixBody is what a route is sent: a body the handler would accept for
// the routes that take one, so a valid credential reaches the real work.
func matrixBody(rt api.Route) (ctype, body string) {
	switch {
	case rt.Path == "/login":
		return "application/x-www-form-urlencoded", url.Values{"token": {matrixRead}, "next": {"/"}}.Encode()
	case rt.Path == "/logout":
		return "application/x-www-form-urlencoded", ""
	case rt.Method == "POST" && rt.Path == "/api/v1/events":
		return "application/json", `{"tags":["matrix"]}`
	case rt.Method == "POST" && rt.Path == "/api/v1/stacks":
		return "application/json", `{"name":"matrix","compose":"services:\n  web:\n    image: nginx\n"}`
	case rt.Method == "PUT":
		return "application/json", `{"compose":"services:\n  web:\n    image: nginx\n"}`
	case rt.Method == "POST":
		return "application/json", `{}`
	}
	return "", ""
}

// expectation is what a credential may get on a route.
type expectation int

const (
	expectAccess    expectation = iota // anything but 401 and 403: the handler ran
	expectMissing                      // 401: no or wrong credentials
	expectForbidden                    // 403: wrong scope or a foreign page
)

func (e expectation) ok(status int) bool {
	switch e {
	case expectMissing:
		return status == http.StatusUnauthorized
	case expectForbidden:
		return status == http.StatusForbidden
	}
	return status != http.StatusUnauthorized && status != http.StatusForbidden && status != 0
}

func (e expectation) String() string {
	return [...]string{"access (not 401/403)", "401", "403"}[e]
}

// matrixCred is one column of the matrix: how it marks the request, and
// what it should get on a route by that route's scope.
type matrixCred struct {
	name     string
	bodyNeed bool // only for routes that carry a body
	prepare  func(t *testing.T, req *http.Request, body string)
	want     func(rt api.Route) expectation
}

// byScope is the expectation of a credential holding held (auth.ScopePublic
// for none) on a route: public routes are open to all; otherwise a
// missing or failed credential is 401 and a too-small scope is 403.
func byScope(held auth.Scope, failed bool) func(rt api.Route) expectation {
	return func(rt api.Route) expectation {
		switch {
		case rt.Scope == auth.ScopePublic:
			return expectAccess
		case failed || held == auth.ScopePublic:
			return expectMissing
		case held < rt.Scope:
			return expectForbidden
		}
		return expectAccess
	}
}

// matrixCreds are the columns. Hyper signatures are made by the test's own
// signer (hyperClientSign), which follows Hyper's client, not the verifier.
func matrixCreds(base string) []matrixCred {
	bearer := func(tok string) func(*testing.T, *http.Request, string) {
		return func(_ *testing.T, req *http.Request, _ string) { req.Header.Set("Authorization", "Bearer "+tok) }
	}
	signed := func(access, secret string, age time.Duration) func(*testing.T, *http.Request, string) {
		return func(_ *testing.T, req *http.Request, _ string) {
			testenv.HyperSign(req, access, secret, "us-west-1", time.Now().Add(-age))
		}
	}
	cookie := func(origin string) func(*testing.T, *http.Request, string) {
		return func(t *testing.T, req *http.Request, _ string) {
			// A session of its own: the row of POST /logout ends it.
			req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: loginSession(t, base, matrixRead)})
			req.Header.Set("Origin", origin)
		}
	}
	return []matrixCred{
		{name: "no credentials", prepare: func(*testing.T, *http.Request, string) {}, want: byScope(auth.ScopePublic, false)},
		{name: "read token", prepare: bearer(matrixRead), want: byScope(auth.ScopeRead, false)},
		{name: "admin token", prepare: bearer(matrixAdmin), want: byScope(auth.ScopeAdmin, false)},
		{name: "wrong token", prepare: bearer(matrixWrong), want: byScope(auth.ScopeRead, true)},
		{name: "Hyper read key", prepare: signed("AKMTXREAD", matrixHyperRead, 0), want: byScope(auth.ScopeRead, false)},
		{name: "Hyper admin key", prepare: signed("AKMTXADMIN", matrixHyperAdmin, 0), want: byScope(auth.ScopeAdmin, false)},
		{name: "Hyper wrong secret", prepare: signed("AKMTXADMIN", matrixHyperForged, 0), want: byScope(auth.ScopeAdmin, true)},
		{name: "Hyper expired", prepare: signed("AKMTXADMIN", matrixHyperAdmin, 10*time.Minute), want: byScope(auth.ScopeAdmin, true)},
		{name: "Hyper unsigned", prepare: func(_ *testing.T, req *http.Request, _ string) {
			req.Header.Set("Authorization", "HYPER-HMAC-SHA256 Credential=AKMTXADMIN/20260101/us-west-1/hyper/hyper_request, SignedHeaders=host;x-hyper-date, Signature=")
		}, want: byScope(auth.ScopeAdmin, true)},
		{name: "Hyper body hash mismatch", bodyNeed: true, prepare: func(t *testing.T, req *http.Request, body string) {
			// Signed for another body, then sent with the real one: a
			// replayed signature on a changed request.
			req.Body = io.NopCloser(strings.NewReader(body + " "))
			testenv.HyperSign(req, "AKMTXADMIN", matrixHyperAdmin, "us-west-1", time.Now())
			req.Body = io.NopCloser(strings.NewReader(body))
			req.ContentLength = int64(len(body))
		}, want: byScope(auth.ScopeAdmin, true)},
		{name: "session cookie, same origin", prepare: cookie(base), want: byScope(auth.ScopeRead, false)},
		{name: "session cookie, foreign Origin", prepare: cookie("https://evil.example"), want: func(rt api.Route) expectation {
			// A foreign page riding the cookie is 403 before the token is
			// looked at; the public login forms refuse foreign posts too.
			if rt.Scope != auth.ScopePublic || rt.Method == "POST" {
				return expectForbidden
			}
			return expectAccess
		}},
	}
}

// matrixRequest is one cell: route rt with credential c. Stream routes other
// than SSE are asked as websocket upgrades (a browser's GET /stacks without
// one is the public UI page), and an upgraded socket is closed at once.
func matrixRequest(t *testing.T, client *http.Client, base string, rt api.Route, c matrixCred) int {
	t.Helper()
	target := concretePath(rt.Path)
	if rt.Path == "/events/ws" {
		target += "?since=1h" // replays from the store: upgrades without an engine
	}
	ctype, body := matrixBody(rt)
	var rd io.Reader
	if rt.Method == "POST" || rt.Method == "PUT" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(rt.Method, base+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if rt.Stream && rt.Path != "/api/v1/events/stream" {
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	c.prepare(t, req, body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", rt.Method, target, err)
	}
	if !rt.Stream {
		io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close() // a stream: only its status matters
	return resp.StatusCode
}

// TestAuthMatrix sends every route of the route table (so a new route is
// covered the day it is added) every kind of credential, and checks the
// status against the route's scope. Afterwards no secret used may appear in
// the server's log, its /logs/ws records or /metrics.
func TestAuthMatrix(t *testing.T) {
	s, logs := startServerLogged(t,
		"--host", noEngine, "--request-rate", "0", "--max-streams", "0",
		"--token", "read:"+matrixRead, "--token", "admin:"+matrixAdmin,
		"--hyper-key", "AKMTXREAD:"+matrixHyperRead, "--hyper-key", "AKMTXADMIN:"+matrixHyperAdmin+":admin")
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableKeepAlives: true}, // no upgraded or streaming connection is reused
	}
	creds := matrixCreds(s.URL)
	routes := api.Routes()
	cells := 0
	for i, c := range creds {
		t.Logf("column %d: %s", i+1, c.name)
	}
	for _, rt := range routes {
		var row []string // the statuses of this route, logged as one line of the matrix
		for _, c := range creds {
			if c.bodyNeed && rt.Method != "POST" && rt.Method != "PUT" {
				continue
			}
			want := c.want(rt)
			got := matrixRequest(t, client, s.URL, rt, c)
			cells++
			row = append(row, fmt.Sprint(got))
			if !want.ok(got) {
				t.Errorf("%s %s (%s route) with %s: status %d, want %s", rt.Method, rt.Path, rt.Scope, c.name, got, want)
			}
		}
		t.Logf("%-6s %-34s %-6s %s", rt.Method, rt.Path, rt.Scope, strings.Join(row, " "))
	}
	t.Logf("%d routes × %d credentials: %d requests", len(routes), len(creds), cells)

	// Every secret was used above, valid and invalid; none may be echoed.
	secrets := []string{matrixRead, matrixAdmin, matrixWrong, matrixHyperRead, matrixHyperAdmin, matrixHyperForged}
	admin := http.Header{"Authorization": {"Bearer " + matrixAdmin}}
	places := map[string]string{
		"server log (stderr)": logs.String(),
		"/metrics":            getWith(t, s.URL+"/metrics", admin),
		"/logs/ws":            logsBacklog(t, s.WS("/logs/ws?tail=1000"), admin),
	}
	if !strings.Contains(places["server log (stderr)"], "request refused") || !strings.Contains(places["/logs/ws"], "request refused") {
		t.Fatalf("the refusals were not logged, so this test would prove nothing:\n%.2000s", places["server log (stderr)"])
	}
	for where, text := range places {
		for _, sec := range secrets {
			if strings.Contains(text, sec) {
				i := strings.Index(text, sec)
				t.Errorf("secret %s… appears in %s: …%s…", sec[:8], where, text[max(0, i-200):min(len(text), i+len(sec)+50)])
			}
		}
	}
}

// getWith GETs u with header and returns the body.
func getWith(t *testing.T, u string, header http.Header) string {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// logsBacklog reads /logs/ws until it goes quiet: the greeting and the
// backlog of recent records.
func logsBacklog(t *testing.T, u string, header http.Header) string {
	t.Helper()
	c := dialWS(t, u, &websocket.DialOptions{HTTPHeader: header})
	var all strings.Builder
	for {
		select {
		case f := <-c.frames:
			all.Write(f)
			all.WriteByte('\n')
		case err := <-c.closed:
			t.Fatalf("/logs/ws closed: %v", err)
		case <-time.After(300 * time.Millisecond):
			return all.String()
		}
	}
}

// TestLooseCredentialFileRefusedAtStart: the binary does not start on a
// token file others may read. (TestCredentialFiles covers every mode and
// the Hyper key file at the authenticator.)
func TestLooseCredentialFileRefusedAtStart(t *testing.T) {
	name := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(name, []byte("read:"+matrixRead+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	var stderr syncBuffer
	err := run(context.Background(), []string{"--addr", freeAddr(t), "--data", t.TempDir(), "--token-file", name}, func(string) string { return "" }, &stderr)
	if err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("run with a 0644 token file: %v, want a refusal naming 0600", err)
	}
	if strings.Contains(err.Error()+stderr.String(), matrixRead) {
		t.Fatal("the refusal quotes the token")
	}
}

// TestStaticFilesRefuseTraversal asks for files outside the embedded assets
// in every spelling a path traversal takes. The assets are served from a
// fixed table of embedded files, never from the disk; this pins that down.
func TestStaticFilesRefuseTraversal(t *testing.T) {
	s := startServer(t, "--host", noEngine, "--request-rate", "0")
	addr := hostPort(t, s.URL)
	leaks := []string{"module github.com/crowsnest-hq/crowsnest", "root:x:0:0", "package web"}
	for _, target := range []string{
		"/web/../go.mod",
		"/web/%2e%2e/go.mod",
		"/web/%2E%2E/%2E%2E/go.mod",
		"/web/..%2fgo.mod",
		"/web/%2e%2e%2fgo.mod",
		"/web/..%5cgo.mod",
		"/web/..\\go.mod",
		"/web/....//....//go.mod",
		"/web/%252e%252e/go.mod",
		"/web/../../../../../../etc/passwd",
		"/web/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"//etc/passwd",
		"/wasm_exec.js/../../go.mod",
		"/web/embed.go",
		"/web/./embed.go",
		"/web/%00../go.mod",
		"/go.mod",
		"/server/main.go",
	} {
		// Raw, so the target reaches the server exactly as written (Go's
		// client would clean or re-escape some of them).
		status, body := rawGet(t, addr, target)
		for _, leak := range leaks {
			if strings.Contains(body, leak) {
				t.Errorf("%s: status %d served a file outside the assets (%q)", target, status, leak)
			}
		}
		if status == http.StatusOK {
			t.Errorf("%s: status 200, want a 4xx or a redirect to a clean path", target)
		}
		t.Logf("%s → %d", target, status)
	}
}

// rawGet sends one GET with target verbatim on a fresh connection and
// returns the status and body; a redirect is followed once the same way.
func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	for hop := 0; ; hop++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("%s: %v", target, err)
		}
		b, _ := io.ReadAll(resp.Body)
		c.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 == 3 && loc != "" && hop == 0 {
			u, err := url.Parse(loc)
			if err == nil && (u.Host == "" || u.Host == addr) {
				target = u.RequestURI()
				continue
			}
		}
		return resp.StatusCode, string(b)
	}
}

// securityRow is a route's row in SECURITY.md's table: endpoint, scope,
// who may call it from another origin, and the body types it accepts.
func securityRow(rt api.Route) string {
	types := "—"
	if rt.Accepts != nil {
		types = "`" + strings.Join(rt.Accepts, "`, `") + "`"
	}
	return fmt.Sprintf("| `%s %s` | %s | %s | %s |", rt.Method, rt.Path, rt.Scope, rt.Origin(), types)
}

// TestSecurityDocListsEveryRoute keeps SECURITY.md's route table the route
// table's: every route appears with its scope, origin rule and content
// types, and no row names a route that does not exist.
func TestSecurityDocListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	row := regexp.MustCompile("(?m)^\\| `([A-Z]+ [^`]+)` \\|.*\\|$")
	for _, m := range row.FindAllStringSubmatch(docSection(t, string(doc), "## Who may do what"), -1) {
		rows[m[1]] = m[0]
	}
	if len(rows) == 0 {
		t.Fatal("no route table found in SECURITY.md")
	}
	for _, rt := range api.Routes() {
		key := rt.Method + " " + rt.Path
		got, ok := rows[key]
		switch want := securityRow(rt); {
		case !ok:
			t.Errorf("SECURITY.md does not list %s; add:\n%s", key, want)
		case got != want:
			t.Errorf("SECURITY.md's row of %s is\n%s\nthe route table says\n%s", key, got, want)
		}
		delete(rows, key)
	}
	for key := range rows {
		t.Errorf("SECURITY.md lists %s, which is not in the route table", key)
	}
}

// TestSecurityDocInStep keeps SECURITY.md's claims the code's: every flag it
// names exists, and the timeouts it gives are the ones the server uses.
func TestSecurityDocInStep(t *testing.T) {
	raw, err := os.ReadFile("../SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(raw)), " ") // line breaks do not matter
	var usage bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, func(string) string { return "" }, &usage); err == nil {
		t.Fatal("--help did not stop parsing")
	}
	for _, m := range regexp.MustCompile("`(--[a-z-]+)").FindAllStringSubmatch(doc, -1) {
		if !strings.Contains(usage.String(), "\n  -"+m[1][2:]+" ") && !strings.Contains(usage.String(), "\n  -"+m[1][2:]+"\n") {
			t.Errorf("SECURITY.md names %s, which is not a flag", m[1])
		}
	}
	// The numbers of server/auth are checked there (TestSecurityDocInStep).
	for _, claim := range []string{
		fmt.Sprintf("complete within %d s", int(readHeaderTimeout.Seconds())),
		fmt.Sprintf("| reading a request body (every route) | %d min,", int(api.BodyReadTimeout.Minutes())),
	} {
		if !strings.Contains(doc, claim) {
			t.Errorf("SECURITY.md does not say %q", claim)
		}
	}
}
