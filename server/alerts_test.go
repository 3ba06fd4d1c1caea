package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// receiver is a local webhook target: it records every alert POSTed to it,
// answering status (200 when zero).
type receiver struct {
	URL    string
	status int
	mu     sync.Mutex
	got    []received
	posts  int
	notify chan struct{}
}

// received is one alert and when it arrived.
type received struct {
	alert wire.Alert
	at    time.Time
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	rc := &receiver{status: status, notify: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var a wire.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
		}
		rc.mu.Lock()
		rc.posts++
		if rc.status == 0 {
			rc.got = append(rc.got, received{a, time.Now()})
		}
		rc.mu.Unlock()
		select {
		case rc.notify <- struct{}{}:
		default:
		}
		if rc.status != 0 {
			w.WriteHeader(rc.status)
		}
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/hook"
	return rc
}

// alerts returns what arrived so far.
func (rc *receiver) alerts() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// postCount is how many requests arrived, failed ones included.
func (rc *receiver) postCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.posts
}

// wait waits until at least n alerts arrived and returns them.
func (rc *receiver) wait(t *testing.T, n int, d time.Duration) []received {
	t.Helper()
	deadline := time.After(d)
	for {
		if got := rc.alerts(); len(got) >= n {
			return got
		}
		select {
		case <-rc.notify:
		case <-deadline:
			t.Fatalf("%d alerts arrived within %v, want %d: %+v", len(rc.alerts()), d, n, rc.alerts())
		}
	}
}

// alertServer starts crowsnest on the local engine; tests that need no
// engine pass noEngine through args.
func alertServer(t *testing.T, args ...string) *liveServer {
	t.Helper()
	return startServer(t, append([]string{"--request-rate", "0"}, args...)...)
}

// createRule POSTs r and returns the stored rule.
func createRule(t *testing.T, s *liveServer, r wire.AlertRule) wire.AlertRule {
	t.Helper()
	var stored wire.AlertRule
	mustAPI(t, s, "POST", "/api/v1/alerts", r, &stored, http.StatusCreated)
	return stored
}

// testLabel is a label only the containers of this test carry, for the
// rules' filters.
func testLabel(t *testing.T) (key, value string) {
	return "org.crowsnest.test.alert", regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
}

// labelFilter is the filter JSON selecting this test's containers, with
// actions when given.
func labelFilter(t *testing.T, actions ...string) json.RawMessage {
	k, v := testLabel(t)
	f := map[string][]string{"label": {k + "=" + v}}
	if len(actions) > 0 {
		f["event"] = actions
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runLabelled runs a helper container carrying this test's label.
func runLabelled(t *testing.T, opts testenv.RunOptions) (id, name string) {
	t.Helper()
	k, v := testLabel(t)
	opts.Labels = map[string]string{k: v}
	return testenv.Run(t, testenv.Engine(t), opts)
}

// queryEvents reads GET /api/v1/events with the query and returns the
// events (newest first) and X-Total-Count.
func queryEvents(t *testing.T, s *liveServer, q url.Values) ([]wire.Event, int) {
	t.Helper()
	q.Set("per_page", "1000")
	resp, err := http.Get(s.URL + "/api/v1/events?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/events?%s: %d %s", q.Encode(), resp.StatusCode, b)
	}
	var evs []wire.Event
	if err := json.Unmarshal(b, &evs); err != nil {
		t.Fatal(err)
	}
	total, _ := strconv.Atoi(resp.Header.Get("X-Total-Count"))
	return evs, total
}

// firings are the stored "alert" events of rule (about container, when
// not empty).
func firings(t *testing.T, s *liveServer, rule, container string) []wire.Alert {
	t.Helper()
	q := url.Values{"type": {wire.AlertEventType}, "tag": {"alert:" + rule}}
	if container != "" {
		q.Add("tag", "container:"+container)
	}
	evs, _ := queryEvents(t, s, q)
	out := make([]wire.Alert, len(evs))
	for i, e := range evs {
		if err := json.Unmarshal(e.Value, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// waitDeliveries waits until rule has n deliveries with outcome
// ("ok" or "failed") recorded, and returns them.
func waitDeliveries(t *testing.T, s *liveServer, rule, outcome string, n int, d time.Duration) []wire.AlertDelivery {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		evs, _ := queryEvents(t, s, url.Values{"type": {wire.AlertDeliveryEventType}, "tag": {"alert:" + rule, "delivery:" + outcome}})
		if len(evs) >= n {
			out := make([]wire.AlertDelivery, len(evs))
			for i, e := range evs {
				if err := json.Unmarshal(e.Value, &out[i]); err != nil {
					t.Fatal(err)
				}
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s deliveries of %s recorded within %v, want %d", len(evs), outcome, rule, d, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// quiet fails when rc receives anything within d.
func (rc *receiver) quiet(t *testing.T, d time.Duration, why string) {
	t.Helper()
	before := len(rc.alerts())
	time.Sleep(d)
	if got := rc.alerts(); len(got) > before {
		t.Fatalf("an alert arrived (%s must not fire): %+v", why, got[before:])
	}
}

// TestAlertCrashFiresOnceStopDoesNot: the crash preset, created through
// the API, fires once for a container exiting 3 and never for one stopped
// with docker stop; the firing is in /api/v1/events?type=alert and its
// delivery is recorded.
func TestAlertCrashFiresOnceStopDoesNot(t *testing.T) {
	t.Parallel()
	cli := testenv.Engine(t)
	s := alertServer(t)
	rc := newReceiver(t, 0)
	var presets []wire.AlertPreset
	mustAPI(t, s, "GET", "/api/v1/alerts/presets", nil, &presets, http.StatusOK)
	var crash wire.AlertRule
	for _, p := range presets {
		if p.ID == "crash" {
			crash = p.Rule
		}
	}
	crash.Name = "crash " + t.Name()
	crash.Filters = labelFilter(t, "die")
	crash.Notify = []string{rc.URL}
	createRule(t, s, crash)

	stopped, stoppedName := runLabelled(t, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "100ms"}})
	testenv.Stop(t, cli, stopped)
	_, crashed := runLabelled(t, testenv.RunOptions{Args: []string{"-lines", "1", "-exit", "3"}})

	got := rc.wait(t, 1, 30*time.Second)[0].alert
	if got.Container.Name != crashed || got.Rule != crash.Name || got.Event == nil || got.Event.Actor.Attributes["exitCode"] != "3" {
		t.Fatalf("webhook got %+v, want the crash of %s", got, crashed)
	}
	rc.quiet(t, 3*time.Second, "the docker stop of "+stoppedName)
	if n := len(firings(t, s, crash.Name, crashed)); n != 1 {
		t.Fatalf("%d alert events stored for %s, want 1", n, crashed)
	}
	if n := len(firings(t, s, crash.Name, stoppedName)); n != 0 {
		t.Fatalf("%d alert events stored for the stopped %s, want 0", n, stoppedName)
	}
	d := waitDeliveries(t, s, crash.Name, "ok", 1, 10*time.Second)[0]
	if want := strings.TrimSuffix(rc.URL, "/hook") + "/***"; d.Target != want || d.Attempts != 1 {
		t.Fatalf("delivery %+v, want one attempt to %s (the path hidden)", d, want)
	}
}

// TestAlertRestartLoopOncePerCooldown: a container the engine restarts
// after every crash dies again and again; the rule (3 deaths within 1m)
// fires at most once per cooldown, and again once the cooldown is over.
func TestAlertRestartLoopOncePerCooldown(t *testing.T) {
	t.Parallel()
	s := alertServer(t)
	rc := newReceiver(t, 0)
	const cooldown = 5 * time.Second
	rule := createRule(t, s, wire.AlertRule{Name: "loop " + t.Name(), Enabled: true, Kind: wire.AlertKindEvent,
		Filters: labelFilter(t, "die"), When: "!stopped", Count: 3, Within: wire.Duration(time.Minute),
		Cooldown: wire.Duration(cooldown), Notify: []string{rc.URL}})

	_, name := runLabelled(t, testenv.RunOptions{Args: []string{"-lines", "1", "-exit", "1"},
		HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways}}})
	first := rc.wait(t, 1, 30*time.Second)[0]
	// The engine's restart delay doubles from 100 ms: within 2.5
	// cooldowns the container dies several more times.
	time.Sleep(cooldown*5/2 - time.Since(first.at))
	got := rc.alerts()
	_, dies := queryEvents(t, s, url.Values{"type": {wire.ContainerEventType}, "tag": {"container:" + name, "action:die"}})
	t.Logf("%d deaths, %d alerts", dies, len(got))
	if len(got) < 2 {
		t.Fatalf("%d alerts over 2.5 cooldowns of a restart loop (%d deaths), want a second one after the cooldown", len(got), dies)
	}
	if dies <= len(got)+2 {
		t.Fatalf("%d deaths and %d alerts: the loop was too slow to test the cooldown", dies, len(got))
	}
	for i := 1; i < len(got); i++ {
		if gap := got[i].alert.Time.Sub(got[i-1].alert.Time); gap < cooldown {
			t.Fatalf("alerts %d and %d are %v apart, within the cooldown %v", i, i+1, gap, cooldown)
		}
	}
	if n := len(firings(t, s, rule.Name, name)); n < len(got) {
		t.Fatalf("%d alert events stored, %d delivered", n, len(got))
	}
}

// TestAlertUnhealthyAfterFor: a container whose health check fails fires
// once it has been unhealthy for the rule's "for", not before; a healthy
// one never fires.
func TestAlertUnhealthyAfterFor(t *testing.T) {
	t.Parallel()
	s := alertServer(t)
	rc := newReceiver(t, 0)
	const hold = 3 * time.Second
	createRule(t, s, wire.AlertRule{Name: "unhealthy " + t.Name(), Enabled: true, Kind: wire.AlertKindEvent,
		Filters: labelFilter(t), When: `health == "unhealthy"`, For: wire.Duration(hold), Cooldown: wire.Duration(time.Hour),
		Notify: []string{rc.URL}})
	check := func(code string) *container.HealthConfig {
		return &container.HealthConfig{Test: []string{"CMD", testenv.HelperPath, "-exit", code},
			Interval: 500 * time.Millisecond, Timeout: 5 * time.Second, Retries: 1}
	}
	running := []string{"-lines", "-1", "-every", "1s"}
	runLabelled(t, testenv.RunOptions{Args: running, Healthcheck: check("0")})
	_, sick := runLabelled(t, testenv.RunOptions{Args: running, Healthcheck: check("1")})

	got := rc.wait(t, 1, 30*time.Second)[0].alert
	if got.Container.Name != sick || got.Event == nil {
		t.Fatalf("alert %+v, want one about the unhealthy %s", got, sick)
	}
	// The rule has no event filter, like the preset, so a death ends the
	// holding; the alert carries the latest event of the holding (often
	// the health check's exec_die), so time it from the store's record.
	evs, _ := queryEvents(t, s, url.Values{"type": {wire.ContainerEventType}, "tag": {"container:" + sick, "action:health_status: unhealthy"}})
	if len(evs) == 0 {
		t.Fatalf("no health_status: unhealthy event stored for %s", sick)
	}
	became := evs[len(evs)-1].Timestamp
	if waited := got.Time.Sub(became); waited < hold-100*time.Millisecond {
		t.Fatalf("fired %v after the container became unhealthy, before for (%v)", waited, hold)
	}
	rc.quiet(t, 2*time.Second, "the healthy container, or the sick one again within the cooldown,")
}

// TestAlertLogLine: a log rule fires on a new line matching it, once per
// cooldown; a line written before the rule existed does not fire; and the
// rule's follow is the one a log viewer of the container shares.
func TestAlertLogLine(t *testing.T) {
	t.Parallel()
	cli := testenv.Engine(t)
	s := alertServer(t)
	rc := newReceiver(t, 0)
	old, oldName := runLabelled(t, testenv.RunOptions{Args: []string{"-text", "BOOM-old", "-lines", "1", "-sleep", "1h"}})
	testenv.WaitLog(t, cli, old, "BOOM-old")
	rule := createRule(t, s, wire.AlertRule{Name: "log " + t.Name(), Enabled: true, Kind: wire.AlertKindLog,
		Filters: labelFilter(t), When: `line contains "BOOM"`, Cooldown: wire.Duration(time.Hour), Notify: []string{rc.URL}})
	runLabelled(t, testenv.RunOptions{Args: []string{"-text", "fine", "-lines", "-1", "-every", "200ms"}})
	boom, boomName := runLabelled(t, testenv.RunOptions{Args: []string{"-text", "BOOM", "-lines", "-1", "-every", "300ms"}})

	got := rc.wait(t, 1, 30*time.Second)[0].alert
	if got.Container.Name != boomName || got.Kind != wire.AlertKindLog || !strings.Contains(got.Message, "BOOM") {
		t.Fatalf("alert %+v, want a log alert about %s", got, boomName)
	}
	// A viewer joins the rule's follow rather than starting another.
	follows := metricValue(t, s, `crowsnest_container_log_requests_total{kind="follow"}`)
	c := dialWS(t, s.WS("/api/v1/containers/"+boom+"/logs/ws?tail=0"), nil)
	<-c.frames // the greeting
	select {
	case f := <-c.frames:
		if !strings.Contains(string(f), "BOOM") {
			t.Fatalf("viewer got %s", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the viewer got no line")
	}
	if now := metricValue(t, s, `crowsnest_container_log_requests_total{kind="follow"}`); now != follows {
		t.Fatalf("engine follow requests went from %v to %v when a viewer joined a followed container", follows, now)
	}
	rc.quiet(t, 2*time.Second, "a second BOOM within the cooldown, or the line "+oldName+" wrote before the rule")
	if n := len(firings(t, s, rule.Name, "")); n != 1 {
		t.Fatalf("%d alert events stored, want 1", n)
	}
}

// TestAlertDeadTargetRetried: of a rule's two targets, the dead one is
// retried and its failure recorded as an alert-delivery event, while the
// live one receives the alert at once.
func TestAlertDeadTargetRetried(t *testing.T) {
	t.Parallel()
	s := alertServer(t)
	live := newReceiver(t, 0)
	dead := newReceiver(t, http.StatusServiceUnavailable)
	deadURL := strings.Replace(dead.URL, "://", "://bot:s3cret@", 1) + "?token=t0ken"
	rule := createRule(t, s, wire.AlertRule{Name: "dead " + t.Name(), Enabled: true, Kind: wire.AlertKindEvent,
		Filters: labelFilter(t, "die"), When: "exitCode != 0", Notify: []string{deadURL, live.URL}})
	runLabelled(t, testenv.RunOptions{Args: []string{"-lines", "1", "-exit", "3"}})

	got := live.wait(t, 1, 30*time.Second)[0]
	if late := got.at.Sub(got.alert.Time); late > 2*time.Second {
		t.Fatalf("the live target got the alert %v after it fired: the dead one held it up", late)
	}
	failed := waitDeliveries(t, s, rule.Name, "failed", 1, 30*time.Second)[0]
	if failed.Attempts < 2 || failed.Attempts != dead.postCount() || !strings.Contains(failed.Error, "503") {
		t.Fatalf("failed delivery %+v after %d requests, want every attempt made and reported", failed, dead.postCount())
	}
	if strings.Contains(failed.Target, "s3cret") || strings.Contains(failed.Target, "t0ken") {
		t.Fatalf("the delivery record shows the target's secrets: %s", failed.Target)
	}
	if ok, want := waitDeliveries(t, s, rule.Name, "ok", 1, 5*time.Second)[0], strings.TrimSuffix(live.URL, "/hook")+"/***"; ok.Target != want {
		t.Fatalf("successful delivery to %s, want %s (the path hidden)", ok.Target, want)
	}
}

// TestAlertTestNotification: POST …/test sends each target a test alert
// and answers each outcome, storing nothing.
func TestAlertTestNotification(t *testing.T) {
	s := alertServer(t, "--host", noEngine)
	live := newReceiver(t, 0)
	dead := newReceiver(t, http.StatusInternalServerError)
	rule := createRule(t, s, wire.AlertRule{Name: "tested", Enabled: true, Kind: wire.AlertKindEvent,
		When: "exitCode != 0", Notify: []string{live.URL, dead.URL}})
	var out []wire.AlertDelivery
	mustAPI(t, s, "POST", fmt.Sprintf("/api/v1/alerts/%d/test", rule.ID), nil, &out, http.StatusOK)
	if len(out) != 2 || !out[0].OK || out[1].OK || !strings.Contains(out[1].Error, "500") {
		t.Fatalf("test outcomes %+v, want ok for the live target and the 500 of the dead one", out)
	}
	if a := live.wait(t, 1, 5*time.Second)[0].alert; !a.Test || a.Rule != "tested" {
		t.Fatalf("the target got %+v, want a test alert of rule tested", a)
	}
	if n := len(firings(t, s, "tested", "")); n != 0 {
		t.Fatalf("a test notification stored %d alert events", n)
	}
	mustAPI(t, s, "POST", "/api/v1/alerts/999/test", nil, nil, http.StatusNotFound)
}

// TestAlertRulesCRUD: create, read, replace and delete through the API,
// with the statuses a client relies on.
func TestAlertRulesCRUD(t *testing.T) {
	s := alertServer(t, "--host", noEngine)
	r := wire.AlertRule{Name: "oom", Enabled: true, Kind: wire.AlertKindEvent, Filters: json.RawMessage(`{"event":["oom"]}`),
		When: `action == "oom"`, Cooldown: wire.Duration(time.Minute), Notify: []string{"https://hooks.example/x"}}
	stored := createRule(t, s, r)
	if stored.ID < 1 || stored.Created.IsZero() {
		t.Fatalf("stored %+v", stored)
	}
	mustAPI(t, s, "POST", "/api/v1/alerts", r, nil, http.StatusConflict)
	path := fmt.Sprintf("/api/v1/alerts/%d", stored.ID)
	r.Enabled, r.Cooldown = false, wire.Duration(time.Hour)
	var replaced wire.AlertRule
	mustAPI(t, s, "PUT", path, r, &replaced, http.StatusOK)
	var got wire.AlertRule
	mustAPI(t, s, "GET", path, nil, &got, http.StatusOK)
	if got.Enabled || got.Cooldown != wire.Duration(time.Hour) || got.ID != stored.ID {
		t.Fatalf("after PUT, GET says %+v", got)
	}
	mustAPI(t, s, "DELETE", path, nil, nil, http.StatusNoContent)
	mustAPI(t, s, "GET", path, nil, nil, http.StatusNotFound)
	mustAPI(t, s, "PUT", path, r, nil, http.StatusNotFound)
	mustAPI(t, s, "DELETE", path, nil, nil, http.StatusNotFound)
	mustAPI(t, s, "GET", "/api/v1/alerts/abc", nil, nil, http.StatusBadRequest)
	var list []wire.AlertRule
	mustAPI(t, s, "GET", "/api/v1/alerts", nil, &list, http.StatusOK)
	if len(list) != 0 {
		t.Fatalf("list after delete: %+v", list)
	}
}

// TestAlertRulesBadInput: every kind of bad rule is refused with 400 (413
// when too large, 415 when not JSON) and the reason, and nothing is
// stored, on create and on replace.
func TestAlertRulesBadInput(t *testing.T) {
	s := alertServer(t, "--host", noEngine)
	good := `{"name":"good","enabled":true,"kind":"event","when":"exitCode != 0","notify":["https://hooks.example/x"]}`
	stored := createRule(t, s, wire.AlertRule{Name: "kept", Enabled: true, Kind: wire.AlertKindEvent, When: "exitCode != 0"})
	cases := []struct {
		name, body, ctype string
		status            int
		reason            string // part of the message
	}{
		{"empty body", "", "", 400, "empty"},
		{"not JSON", "name: x", "", 400, "json"},
		{"a list", "[" + good + "]", "", 400, "json"},
		{"unknown field", `{"name":"x","kind":"event","when":"true","cooldwon":"1m"}`, "", 400, `unknown field "cooldwon"`},
		{"no name", `{"kind":"event","when":"true"}`, "", 400, "name is required"},
		{"unknown kind", `{"name":"x","kind":"metric","when":"true"}`, "", 400, `kind "metric"`},
		{"no when", `{"name":"x","kind":"event"}`, "", 400, "when is required"},
		{"unknown fact", `{"name":"x","kind":"log","when":"exitCode != 0"}`, "", 400, "when:"},
		{"not boolean", `{"name":"x","kind":"stats","when":"cpu + 1"}`, "", 400, "when:"},
		{"bad expression", `{"name":"x","kind":"event","when":"exitCode !="}`, "", 400, "when:"},
		{"bad filters", `{"name":"x","kind":"event","when":"true","filters":{"color":["red"]}}`, "", 400, "filters"},
		{"event filter on a log rule", `{"name":"x","kind":"log","when":"true","filters":{"event":["die"]}}`, "", 400, "event rules only"},
		{"count without within", `{"name":"x","kind":"event","when":"true","count":3}`, "", 400, "count needs within"},
		{"for on a log rule", `{"name":"x","kind":"log","when":"true","for":"1m"}`, "", 400, "for applies to event and stats rules"},
		{"bad duration", `{"name":"x","kind":"event","when":"true","cooldown":"soon"}`, "", 400, "duration"},
		{"negative cooldown", `{"name":"x","kind":"event","when":"true","cooldown":"-1m"}`, "", 400, "cooldown"},
		{"unknown scheme", `{"name":"x","kind":"event","when":"true","notify":["gopher://x/y"]}`, "", 400, "unknown scheme"},
		{"no scheme", `{"name":"x","kind":"event","when":"true","notify":["hooks.example/x"]}`, "", 400, "no scheme"},
		{"webhook without host", `{"name":"x","kind":"event","when":"true","notify":["https:///x"]}`, "", 400, "no host"},
		{"name taken", `{"name":"kept","kind":"event","when":"true"}`, "", 409, "exists"},
		{"too large", `{"name":"x","kind":"event","when":"` + strings.Repeat("a", 1<<20) + `"}`, "", 413, "larger than"},
		{"not JSON content type", good, "text/plain", 415, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, target := range []struct{ method, path string }{
				{"POST", "/api/v1/alerts"},
				{"PUT", fmt.Sprintf("/api/v1/alerts/%d", stored.ID)},
			} {
				if c.status == 409 && target.method == "PUT" {
					continue // the rule keeps its own name
				}
				status, msg := rawAPI(t, s, target.method, target.path, c.ctype, c.body)
				if status != c.status || !strings.Contains(msg, c.reason) {
					t.Errorf("%s %s: %d %.300s, want %d with %q", target.method, target.path, status, msg, c.status, c.reason)
				}
			}
			var list []wire.AlertRule
			mustAPI(t, s, "GET", "/api/v1/alerts", nil, &list, http.StatusOK)
			if len(list) != 1 || list[0].Name != "kept" || list[0].When != "exitCode != 0" || list[0].Updated != stored.Updated {
				t.Fatalf("rules after a refused request: %+v", list)
			}
		})
	}
}

// rawAPI sends body as is with ctype (application/json when empty) and
// returns the status and the answer's message.
func rawAPI(t *testing.T, s *liveServer, method, path, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype == "" {
		ctype = "application/json"
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m wire.Message
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		return resp.StatusCode, m.Message
	}
	return resp.StatusCode, string(b)
}

// TestAlertRulesRedactedForRead: a read credential sees notify URLs
// redacted by kind (here the user information and everything after the
// host hidden); an admin sees them whole.
func TestAlertRulesRedactedForRead(t *testing.T) {
	s := alertServer(t, "--host", noEngine, "--token", "read:"+matrixRead, "--token", "admin:"+matrixAdmin)
	secretURL := "https://bot:s3cret@hooks.example/alerts?token=t0ken"
	body := `{"name":"secret","enabled":true,"kind":"event","when":"exitCode != 0","notify":["` + secretURL + `"]}`
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/alerts", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+matrixAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var stored wire.AlertRule
	if err := json.NewDecoder(resp.Body).Decode(&stored); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	for _, c := range []struct {
		token, want string
	}{
		{matrixRead, "https://***@hooks.example/***"},
		{matrixAdmin, secretURL},
	} {
		h := http.Header{"Authorization": {"Bearer " + c.token}}
		for _, path := range []string{"/api/v1/alerts", fmt.Sprintf("/api/v1/alerts/%d", stored.ID)} {
			got := getWith(t, s.URL+path, h)
			if !strings.Contains(got, c.want) || (c.token == matrixRead && strings.Contains(got, "s3cret")) {
				t.Errorf("GET %s as %.8s…: %s, want notify %s", path, c.token, got, c.want)
			}
		}
	}
}
