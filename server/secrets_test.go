package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/alerts"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/api"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// sweepSecret is a secret of the sweep: unique to the run, so finding it
// anywhere means it leaked from this test.
func sweepSecret(t *testing.T, kind string) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "sw" + kind + hex.EncodeToString(b)
}

// sweep is the real binary with every kind of secret configured, the
// reader's streams open from the start, and the secrets to look for.
type sweep struct {
	t       *testing.T
	p       *process
	stderr  *syncBuffer
	secrets map[string]string // secret → what it is
	read    http.Header
	admin   http.Header
	answers strings.Builder // the answers searched too (see call)
}

func (sw *sweep) secret(kind, what string) string {
	s := sweepSecret(sw.t, kind)
	sw.secrets[s] = what
	return s
}

// call sends a JSON request with the header and returns the status and
// the answer.
func (sw *sweep) call(h http.Header, method, path string, in any) (int, string) {
	sw.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			sw.t.Fatal(err)
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, sw.p.URL+path, body)
	if err != nil {
		sw.t.Fatal(err)
	}
	req.Header = h.Clone()
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		sw.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// What an admin reads back of what it stored (rules, stacks) holds
	// the secrets by design; everything else is searched.
	if resp.StatusCode >= 400 || strings.HasSuffix(path, "/test") || h.Get("Authorization") == sw.read.Get("Authorization") {
		route, _, _ := strings.Cut(path, "?") // the query is the test's own words
		fmt.Fprintf(&sw.answers, "%s %s: %d %s\n", method, route, resp.StatusCode, b)
	}
	return resp.StatusCode, string(b)
}

// must is call that fails unless the status is want, decoding into out.
func (sw *sweep) must(h http.Header, method, path string, in, out any, want int) {
	sw.t.Helper()
	got, body := sw.call(h, method, path, in)
	if got != want {
		sw.t.Fatalf("%s %s: %d, want %d: %s", method, path, got, want, body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			sw.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// startSweepBinary runs the binary at debug level, keeping its stderr.
func startSweepBinary(t *testing.T, args ...string) (*process, *syncBuffer) {
	t.Helper()
	addr := freeAddr(t)
	all := append([]string{"--addr", addr, "--data", t.TempDir(), "--log-level", "debug", "--request-rate", "0"}, args...)
	cmd := exec.Command(crowsnestBinary(t), all...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, URL: "http://" + addr, cmd: cmd}
	t.Cleanup(p.kill)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p, stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("crowsnest did not answer: %v\n%s", err, stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readSSE collects the raw event stream as a read credential gets it.
func readSSE(t *testing.T, u string, h http.Header) (*syncBuffer, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE: %v %v", resp, err)
	}
	buf := &syncBuffer{}
	go func() {
		defer resp.Body.Close()
		_, _ = io.Copy(buf, resp.Body)
	}()
	t.Cleanup(cancel)
	return buf, cancel
}

// drain returns every frame the socket received so far, waiting until it
// is quiet.
func (c *wsClient) drain() string {
	var all strings.Builder
	for {
		select {
		case f := <-c.frames:
			all.Write(f)
			all.WriteByte('\n')
		case <-time.After(500 * time.Millisecond):
			return all.String()
		}
	}
}

// TestSecretsSweep configures every kind of secret crowsnest holds (bearer
// tokens, a Hyper secret, notify URLs of each kind with secrets in user
// information, host, path and query, .env values), drives each through
// the paths that could echo it (deliveries failing against dead targets,
// refused rules, stack create and deploy failures, wrong tokens, failed
// logins, bad requests carrying them), then searches the binary's stderr
// and everything a read credential can fetch (events, SSE, /logs/ws, the
// /stacks socket, alert rules, stacks), and the answers the admin got,
// for each secret. None may appear. It also checks what a reader does
// get: redacted targets, .env keys with masked values.
func TestSecretsSweep(t *testing.T) {
	t.Parallel()
	sw := &sweep{t: t, secrets: map[string]string{}}
	readTok, adminTok := sw.secret("read", "read token"), sw.secret("admin", "admin token")
	wrongTok := sw.secret("wrong", "a mistyped token")
	hyperSecret, hyperForged := sw.secret("hyper", "Hyper secret"), sw.secret("forged", "a wrong Hyper secret")
	sw.read = http.Header{"Authorization": {"Bearer " + readTok}}
	sw.admin = http.Header{"Authorization": {"Bearer " + adminTok}}
	sw.p, sw.stderr = startSweepBinary(t, "--token", "read:"+readTok, "--token", "admin:"+adminTok,
		"--hyper-key", "AKSWEEP:"+hyperSecret+":admin")

	// The reader's streams, open before anything happens.
	wsOpts := &websocket.DialOptions{HTTPHeader: sw.read}
	ws := func(path string) string { return "ws" + strings.TrimPrefix(sw.p.URL, "http") + path }
	logsWS := dialWS(t, ws("/logs/ws?tail=1000"), wsOpts)
	stacksWS := dialWS(t, ws("/stacks"), wsOpts)
	sse, stopSSE := readSSE(t, sw.p.URL+"/api/v1/events/stream", sw.read)

	// Credentials used wrong.
	sw.call(http.Header{"Authorization": {"Bearer " + wrongTok}}, "GET", "/api/v1/hosts", nil)
	sw.call(sw.read, "GET", "/api/v1/events?per_page=x&token="+url.QueryEscape(adminTok), nil)
	sw.call(sw.read, "POST", "/api/v1/alerts", map[string]string{"token": adminTok})
	for _, tok := range []string{wrongTok, hyperSecret} {
		resp, err := http.PostForm(sw.p.URL+"/login", url.Values{"token": {tok}, "next": {"/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, secret := range []string{hyperSecret, hyperForged} {
		req, _ := http.NewRequest("GET", sw.p.URL+"/api/v1/hosts", nil)
		testenv.HyperSign(req, "AKSWEEP", secret, "us-west-1", time.Now())
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}

	sweepAlerts(t, sw)
	sweepStacks(t, sw)

	// Everything a reader can fetch, and the binary's own words.
	places := map[string]string{
		"GET /api/v1/alerts": sw.mustText(sw.read, "/api/v1/alerts"),
		"GET /api/v1/stacks": sw.mustText(sw.read, "/api/v1/stacks"),
	}
	for _, q := range []string{"", "&type=" + wire.AlertEventType, "&type=" + wire.AlertDeliveryEventType, "&type=" + wire.StackEventType} {
		path := "/api/v1/events?per_page=1000" + q
		places["GET "+path] = sw.mustText(sw.read, path)
	}
	var rules []wire.AlertRule
	must(t, json.Unmarshal([]byte(places["GET /api/v1/alerts"]), &rules))
	for _, r := range rules {
		path := fmt.Sprintf("/api/v1/alerts/%d", r.ID)
		places["GET "+path] = sw.mustText(sw.read, path)
	}
	var stacks []wire.Stack
	must(t, json.Unmarshal([]byte(places["GET /api/v1/stacks"]), &stacks))
	for _, st := range stacks {
		if st.ID != 0 {
			path := fmt.Sprintf("/api/v1/stacks/%d", st.ID)
			places["GET "+path] = sw.mustText(sw.read, path)
		}
	}
	places["/logs/ws"] = logsWS.drain()
	places["/stacks"] = stacksWS.drain()
	stopSSE()
	places["GET /api/v1/events/stream"] = sse.String()
	places["answers to the admin"] = sw.answers.String()
	if err := sw.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = sw.p.cmd.Wait()
	places["stderr"] = sw.stderr.String()

	for _, want := range []struct{ place, text string }{
		{"stderr", "alert delivery failed"},
		{"/logs/ws", "alert not delivered"},
		{"GET /api/v1/events/stream", "delivery:failed"},
		{"/stacks", wire.StackErrorType},
	} {
		if !strings.Contains(places[want.place], want.text) {
			t.Errorf("%s does not show %q, so the sweep proves nothing there:\n%.3000s", want.place, want.text, places[want.place])
		}
	}
	for where, text := range places {
		for secret, what := range sw.secrets {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s (%s) appears in %s: …%s…", what, secret, where, text[max(0, i-300):min(len(text), i+len(secret)+80)])
			}
		}
	}
}

// mustText GETs path with h, kept for the search; it fails unless 200.
func (sw *sweep) mustText(h http.Header, path string) string {
	sw.t.Helper()
	status, body := sw.call(h, "GET", path, nil)
	if status != http.StatusOK {
		sw.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return body
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sweepAlerts makes a rule with a notify URL of every kind that can be
// pointed at loopback, all dead, fires it with a crashing container and
// waits for every delivery to fail; it also has rules refused for their
// URLs, and checks what a reader and an admin get.
func sweepAlerts(t *testing.T, sw *sweep) {
	dead := freeAddr(t) // nothing listens there
	s := func(kind string) string { return sw.secret(kind, "a notify URL's "+kind) }
	targets := []string{
		"http://hookuser:" + s("webhookpw") + "@" + dead + "/hooks/" + s("webhookpath") + "?token=" + s("webhookquery"),
		"https://" + dead + "/services/T" + s("slackteam") + "/B" + s("slackbot") + "/" + s("slacksecret"),
		"https://" + dead + "/api/webhooks/1234567890/" + s("discordtoken"),
		"gotify://" + dead + "/" + s("gotifytoken") + "?disabletls=yes",
		"ntfy://ntfyuser:" + s("ntfypw") + "@" + dead + "/" + s("ntfytopic") + "?scheme=http",
		"generic://" + dead + "/x/" + s("genericpath") + "?token=" + s("genericquery") + "&disabletls=yes",
		"smtp://smtpuser:" + s("smtppw") + "@" + dead + "/?from=crowsnest@example.com&to=ops@example.com&auth=plain&encryption=none&usestarttls=no",
	}
	var rule wire.AlertRule
	sw.must(sw.admin, "POST", "/api/v1/alerts", wire.AlertRule{Name: "sweep", Enabled: true, Kind: wire.AlertKindEvent,
		Filters: labelFilter(t, "die"), When: "exitCode != 0", Notify: targets}, &rule, http.StatusCreated)

	for _, bad := range []string{
		"https://" + dead[:strings.IndexByte(dead, ':')] + ":" + s("badport") + "/x",
		"https://host.example/%zz" + s("badescape"),
		"teams://" + s("teamsgroup") + "@tenant",
	} {
		if status, body := sw.call(sw.admin, "POST", "/api/v1/alerts", wire.AlertRule{Name: "refused", Kind: wire.AlertKindEvent,
			When: "true", Notify: []string{bad}}); status != http.StatusBadRequest {
			t.Errorf("a rule notifying %s: %d %s, want 400", bad, status, body)
		}
	}
	sw.call(sw.admin, "POST", fmt.Sprintf("/api/v1/alerts/%d/test", rule.ID), nil)

	// A reader gets every target redacted by kind.
	var seen wire.AlertRule
	sw.must(sw.read, "GET", fmt.Sprintf("/api/v1/alerts/%d", rule.ID), nil, &seen, http.StatusOK)
	want := []string{
		"http://***@" + dead + "/***", "https://" + dead + "/***", "https://" + dead + "/***", "gotify://" + dead + "/***",
		"ntfy://***@" + dead + "/***", "generic://" + dead + "/***", "smtp://***@" + dead + "/***",
	}
	if strings.Join(seen.Notify, " ") != strings.Join(want, " ") {
		t.Errorf("a reader gets the targets\n%s\nwant\n%s", strings.Join(seen.Notify, "\n"), strings.Join(want, "\n"))
	}
	// An admin reads them whole, and saving the rule as read keeps them.
	var whole wire.AlertRule
	sw.must(sw.admin, "GET", fmt.Sprintf("/api/v1/alerts/%d", rule.ID), nil, &whole, http.StatusOK)
	sw.must(sw.admin, "PUT", fmt.Sprintf("/api/v1/alerts/%d", rule.ID), whole, nil, http.StatusOK)
	sw.must(sw.admin, "GET", fmt.Sprintf("/api/v1/alerts/%d", rule.ID), nil, &whole, http.StatusOK)
	if strings.Join(whole.Notify, " ") != strings.Join(targets, " ") {
		t.Errorf("after an admin's round trip the targets are\n%s", strings.Join(whole.Notify, "\n"))
	}

	runLabelled(t, testenv.RunOptions{Args: []string{"-lines", "1", "-exit", "3"}})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var evs []wire.Event
		sw.must(sw.read, "GET", "/api/v1/events?per_page=100&type="+wire.AlertDeliveryEventType+"&tag=delivery:failed&tag=alert:sweep", nil, &evs, http.StatusOK)
		if len(evs) >= len(targets) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d failed deliveries recorded, want %d", len(evs), len(targets))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sweepStacks stores a stack whose .env holds secrets and deploys it into
// a failure that quotes an interpolated value, has creates refused for
// their .env, and checks what a reader and an admin get.
func sweepStacks(t *testing.T, sw *sweep) {
	eng := testenv.Engine(t)
	key, run := testenv.Label(t)
	name := stackName(t, "secrets")
	cleanupProject(t, eng, name)
	dbPassword := sw.secret("dbpassword", "an .env value")
	badName := "bad name " + sw.secret("ctrname", "an .env value quoted by the engine")
	compose := fmt.Sprintf(`services:
  app:
    image: %s
    container_name: "${CTR_NAME}"
    command: ["-lines", "1", "-sleep", "1h"]
    environment:
      DB_PASSWORD: "${DB_PASSWORD}"
    labels:
      %s: %s
`, testenv.HelperImage(t), key, run)
	env := "# the database\nDB_PASSWORD=" + dbPassword + "\nCTR_NAME=\"" + badName + "\"\nPORT=8080\n"
	var st wire.Stack
	sw.must(sw.admin, "POST", "/api/v1/stacks", wire.StackRequest{Name: name, Compose: compose, Env: env}, &st, http.StatusCreated)
	sw.must(sw.admin, "POST", fmt.Sprintf("/api/v1/stacks/%d/deploy", st.ID), nil, nil, http.StatusAccepted)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var got wire.Stack
		sw.must(sw.read, "GET", fmt.Sprintf("/api/v1/stacks/%d", st.ID), nil, &got, http.StatusOK)
		if got.Status != wire.StackPending && got.Error != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deploy did not fail: %+v", got)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// Creates refused for what their .env makes of the compose file, or
	// for an .env that does not parse.
	badPort := sw.secret("badport", "an .env value in a refused port")
	sw.call(sw.admin, "POST", "/api/v1/stacks", wire.StackRequest{Name: stackName(t, "badport"),
		Compose: fmt.Sprintf("services:\n  app:\n    image: %s\n    ports: [\"${PORT}:80\"]\n", testenv.HelperImage(t)), Env: "PORT=" + badPort + "\n"})
	sw.call(sw.admin, "POST", "/api/v1/stacks", wire.StackRequest{Name: stackName(t, "badenv"),
		Compose: compose, Env: "DB_PASSWORD " + sw.secret("unparsable", "a line of an .env that does not parse") + "\n"})

	// A reader gets the keys; an admin the whole text, kept by a round trip.
	var seen wire.Stack
	sw.must(sw.read, "GET", fmt.Sprintf("/api/v1/stacks/%d", st.ID), nil, &seen, http.StatusOK)
	if seen.Env != "CTR_NAME=***\nDB_PASSWORD=***\nPORT=***\n" || seen.Compose != compose {
		t.Errorf("a reader gets env %q and compose %q, want the keys masked and the compose text", seen.Env, seen.Compose)
	}
	var whole wire.Stack
	sw.must(sw.admin, "GET", fmt.Sprintf("/api/v1/stacks/%d", st.ID), nil, &whole, http.StatusOK)
	sw.must(sw.admin, "PUT", fmt.Sprintf("/api/v1/stacks/%d", st.ID), wire.StackRequest{Compose: whole.Compose, Env: whole.Env}, nil, http.StatusOK)
	sw.must(sw.admin, "GET", fmt.Sprintf("/api/v1/stacks/%d", st.ID), nil, &whole, http.StatusOK)
	if whole.Env != env {
		t.Errorf("after an admin's round trip the env is %q, want %q", whole.Env, env)
	}
}

// docSection is the part of doc from the heading line to the next heading
// of its level; it fails the test when there is no such heading.
func docSection(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("SECURITY.md has no section %q", heading)
	}
	rest := doc[i+len(heading)+2:]
	level := heading[:strings.IndexByte(heading, ' ')+1]
	if j := strings.Index(rest, "\n"+level); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestSecurityDocReadRoutes keeps SECURITY.md's account of what a read
// credential sees the route table's: one row for every read route and
// none for another, each saying what the reader gets; and the examples of
// redacted notify URLs are what crowsnest shows. TestSecretsSweep proves
// the withheld column.
func TestSecurityDocReadRoutes(t *testing.T) {
	raw, err := os.ReadFile("../SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := docSection(t, string(raw), "## What a read credential sees")
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z]+ [^`]+)` \\| ([^|]+) \\| ([^|]+) \\|$").FindAllStringSubmatch(sec, -1) {
		if rows[m[1]] {
			t.Errorf("SECURITY.md lists %s twice under what a read credential sees", m[1])
		}
		rows[m[1]] = true
	}
	for _, rt := range api.Routes() {
		key := rt.Method + " " + rt.Path
		switch {
		case rt.Scope == auth.ScopeRead && !rows[key]:
			t.Errorf("SECURITY.md does not say what a read credential gets from %s: add a row | `%s` | gets | withheld |", key, key)
		case rt.Scope != auth.ScopeRead && rows[key]:
			t.Errorf("SECURITY.md lists %s (%s) as a read route", key, rt.Scope)
		}
		delete(rows, key)
	}
	for key := range rows {
		t.Errorf("SECURITY.md says what a reader gets from %s, which is not in the route table", key)
	}
	flat := strings.Join(strings.Fields(sec), " ")
	examples := regexp.MustCompile("`([a-z]+://[^`]+)` is `([^`]+)`").FindAllStringSubmatch(flat, -1)
	if len(examples) == 0 {
		t.Fatal("SECURITY.md gives no example of a redacted notify URL")
	}
	for _, m := range examples {
		if got := alerts.RedactTarget(m[1]); got != m[2] {
			t.Errorf("SECURITY.md says %s is shown as %s; crowsnest shows %s", m[1], m[2], got)
		}
	}
	for _, list := range []struct {
		pattern string
		shown   bool
	}{{`its host where it names a server \(([^)]+)\)`, true}, {`where a service keeps a token or an id there \(([^)]+)\)`, false}} {
		m := regexp.MustCompile(list.pattern).FindStringSubmatch(flat)
		if m == nil {
			t.Fatalf("SECURITY.md does not list the services matching %q", list.pattern)
		}
		for _, scheme := range regexp.MustCompile(`, | and `).Split(m[1], -1) {
			if scheme == "the others" {
				continue
			}
			if shown := strings.Contains(alerts.RedactTarget(scheme+"://srv.example/x"), "srv.example"); shown != list.shown {
				t.Errorf("SECURITY.md says a %s URL's host is shown: %v; crowsnest shows %s", scheme, list.shown, alerts.RedactTarget(scheme+"://srv.example/x"))
			}
		}
	}
}
