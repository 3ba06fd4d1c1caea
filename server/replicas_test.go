package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/lease"
	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
	"github.com/crowsnest-hq/crowsnest/internal/natstest"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// replicaChurn is a small churn: enough concurrent creates and removes for
// the engine to deliver some out of order, small enough for CI.
const (
	replicaChurnContainers = 40
	replicaChurnWorkers    = 8
)

// TestReplicasShareOneHistory runs two crowsnest replicas on one NATS
// JetStream server, both watching the real engine: every engine event is
// stored once although both watch, also when one replica is stopped in the
// middle of the churn and started again (it catches up from the stream);
// both list the same events under the same ids; a POST on one is readable
// at once there and streamed by the other in order.
func TestReplicasShareOneHistory(t *testing.T) {
	testenv.ShareEngineMemory(t)
	c := testenv.Engine(t)
	testenv.HelperImage(t)
	t.Cleanup(func() { testenv.RemoveAll(t, c) })
	args := []string{"--store", natstest.Single(t), "--request-rate", "0", "--max-streams", "0"}
	a := startServer(t, args...)
	bAddr, bData := freeAddr(t), t.TempDir()
	b := startServerAt(t, bAddr, bData, args...)
	waitConnected(t, a.URL)
	waitConnected(t, b.URL)

	label := faultLabel(t)
	oracle := subscribeEngine(t, c, label)
	liveA := followEvents(t, a.URL, label)
	testenv.Churn(t, c, replicaChurnContainers, replicaChurnWorkers, map[string]string{faultLabelKey: label}, func() {
		b.Stop()
		b = startServerAt(t, bAddr, bData, args...)
	})
	want := oracle.stop(t)
	if len(want) != 2*replicaChurnContainers {
		t.Fatalf("the independent subscriber saw %d events, want %d", len(want), 2*replicaChurnContainers)
	}
	waitExactlyOnce(t, "store of replica a", want, func() []wire.ContainerEvent { return storedEvents(t, a.URL, label) })
	waitExactlyOnce(t, "store of replica b", want, func() []wire.ContainerEvent { return storedEvents(t, b.URL, label) })
	waitExactlyOnce(t, "/events/ws of replica a", want, liveA.events)
	liveA.stop()
	if ia, ib := storeIDs(storedEvents(t, a.URL, label)), storeIDs(storedEvents(t, b.URL, label)); !slices.Equal(ia, ib) {
		t.Fatalf("the replicas hold the engine's events under different ids:\n a %v\n b %v", ia, ib)
	}

	next := openEventStream(t, b.URL+"/api/v1/events/stream?tag="+label, "0")
	var posted []wire.Event
	for i := range 5 {
		ev := postEvent(t, a.URL, fmt.Sprintf(`{"tags":[%q],"value":%d}`, label, i))
		var page []wire.Event
		getJSON(t, a.URL+"/api/v1/events?tag="+label, &page)
		if len(page) == 0 || page[0].ID != ev.ID {
			t.Fatalf("replica a does not list the event it just stored (%d): %+v", ev.ID, page)
		}
		posted = append(posted, ev)
	}
	for _, want := range posted {
		if got := next(); got.ID != want.ID || string(got.Value) != string(want.Value) {
			t.Fatalf("replica b streamed %d (%s), want %d (%s)", got.ID, got.Value, want.ID, want.Value)
		}
	}
}

func storeIDs(evs []wire.ContainerEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, eventKey(ev)+"="+strconv.FormatUint(ev.StoreID, 10))
	}
	slices.Sort(out)
	return out
}

// TestReplicaWithoutNATS: a replica starts while no NATS server answers,
// says so on /healthz (503 with the reason) and refuses POSTs with 503;
// once the server is up it works, and a login made on it is a login on
// another replica, and a logout there ends it here.
func TestReplicaWithoutNATS(t *testing.T) {
	port := natstest.FreePort(t)
	args := []string{"--host", noEngine, "--request-rate", "0",
		"--store", fmt.Sprintf("nats://127.0.0.1:%d", port), "--token", "admin:replica-admin-0001"}
	a := startServer(t, args...)
	code, health := healthOf(t, a.URL)
	if code != http.StatusServiceUnavailable || health.Status != wire.HealthUnavailable || health.Store.Backend != "nats" ||
		!strings.Contains(health.Message, "connecting to") {
		t.Fatalf("/healthz without NATS: %d %+v", code, health)
	}
	if code := postStatus(t, a.URL, "replica-admin-0001"); code != http.StatusServiceUnavailable {
		t.Fatalf("POST without NATS: %d, want 503", code)
	}

	natstest.SingleOn(t, port, t.TempDir())
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := healthOf(t, a.URL); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/healthz never turned 200 once NATS answered")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := postStatus(t, a.URL, "replica-admin-0001"); code != http.StatusCreated {
		t.Fatalf("POST once NATS answers: %d, want 201", code)
	}

	b := startServer(t, args...)
	session := loginSession(t, a.URL, "replica-admin-0001")
	if got := sessionStatus(t, b.URL, session); got != http.StatusOK {
		t.Fatalf("a session opened on replica a, used on b: %d, want 200", got)
	}
	req, _ := http.NewRequest("POST", b.URL+"/logout", nil)
	req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: session})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := sessionStatus(t, a.URL, session); got != http.StatusUnauthorized {
		t.Fatalf("after logging out on b, the session on a: %d, want 401", got)
	}
}

func healthOf(t *testing.T, base string) (int, wire.Health) {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h wire.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h
}

// postStatus POSTs one event with a bearer token and returns the status.
func postStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/events", bytes.NewBufferString(`{"tags":["replica"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReplicaStackActionOnce: while another replica holds a stack's lease
// (its action on that compose project runs), this replica refuses to act
// on the project with 409 and says why; once the other lets go, it acts.
func TestReplicaStackActionOnce(t *testing.T) {
	eng := testenv.Engine(t)
	image := testenv.HelperImage(t)
	t.Cleanup(func() { testenv.RemoveAll(t, eng) })
	name := stackName(t, "lease")
	cleanupProject(t, eng, name)
	nats := natstest.Single(t)
	srv := startServer(t, "--store", nats, "--request-rate", "0")
	ws := dialWS(t, srv.WS("/stacks"), nil)
	ws.nextStack(t, 5*time.Second) // greeting

	var st wire.Stack
	mustAPI(t, srv, "POST", "/api/v1/stacks", wire.StackRequest{Name: name, Compose: twoServiceStack(t, image, "hello"), Env: "GREETING=x\n"}, &st, http.StatusCreated)
	other := otherReplicaLeases(t, nats)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held, err := other.Acquire(ctx, "stack/"+st.Host+"/"+name)
	if err != nil {
		t.Fatal(err)
	}
	deploy := "/api/v1/stacks/" + strconv.FormatInt(st.ID, 10) + "/deploy"
	if code, body := apiCall(t, srv, "POST", deploy, nil, nil); code != http.StatusConflict || !strings.Contains(body, "another crowsnest replica") {
		t.Fatalf("deploy while another replica holds the stack: %d %s, want 409 naming the other replica", code, body)
	}
	held.Release()
	mustAPI(t, srv, "POST", deploy, nil, nil, http.StatusAccepted)
	msgs := ws.untilDone(t, st.ID, actionTimeout)
	if last := msgs[len(msgs)-1]; last.Data.Status != wire.StackDeployed {
		t.Fatalf("deploy once the lease is free ended with %s", last)
	}
}

// otherReplicaLeases are the leases of another replica on the NATS server
// at url, as the test's stand-in for it.
func otherReplicaLeases(t *testing.T, url string) *lease.Leases {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	st, err := natsstore.Open(natsstore.Options{URLs: []string{url}, ViewPath: filepath.Join(t.TempDir(), "view.db"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for st.Health() != nil && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	return lease.New(lease.Options{Bucket: st.KeyValue, Owner: "the other replica", Logger: log})
}

// TestReplicaAlertSentOnce: two replicas sharing a crash rule see the
// same crash in the shared history; the alert is sent once and recorded
// once, and both list that one firing.
func TestReplicaAlertSentOnce(t *testing.T) {
	testenv.Engine(t)
	testenv.HelperImage(t)
	nats := natstest.Single(t)
	a := alertServer(t, "--store", nats)
	b := alertServer(t, "--store", nats)
	waitConnected(t, a.URL)
	waitConnected(t, b.URL)
	rc := newReceiver(t, 0)
	rule := wire.AlertRule{Name: "crash " + t.Name(), Enabled: true, Kind: "event", Filters: labelFilter(t, "die"),
		When: `exitCode != 0`, Notify: []string{rc.URL}}
	createRule(t, a, rule)

	_, crashed := runLabelled(t, testenv.RunOptions{Args: []string{"-lines", "1", "-exit", "3"}})
	if got := rc.wait(t, 1, 30*time.Second)[0].alert; got.Container.Name != crashed {
		t.Fatalf("webhook got %+v, want the crash of %s", got, crashed)
	}
	rc.quiet(t, 3*time.Second, "the other replica's copy of the alert")
	for _, s := range []*liveServer{a, b} {
		deadline := time.Now().Add(30 * time.Second)
		for len(firings(t, s, rule.Name, crashed)) == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if n := len(firings(t, s, rule.Name, crashed)); n != 1 {
			t.Fatalf("replica %s lists %d firings of the crash, want 1", s.URL, n)
		}
	}
}

// TestReplicasCloseAGapOnce: two replicas watch the engine through one
// fault proxy; the engine goes out of reach of both for longer than its
// event memory, while one container stops and another is removed. Each
// replica records the gap and reconciles the engine's container list with
// the shared record, at its own moment: every change it finds is stored
// once all the same. (Replicas that reconcile at the very same moment
// store the same change under the same key: TestRecordKey in
// internal/docker.)
func TestReplicasCloseAGapOnce(t *testing.T) {
	c := testenv.Engine(t)
	testenv.HelperImage(t)
	proxy := testenv.NewProxy(t, c)
	args := []string{"--store", natstest.Single(t), "--host", "Localhost=" + proxy.URL(), "--request-rate", "0", "--max-streams", "0"}
	a := startServer(t, args...)
	b := startServer(t, args...)
	replicas := []*liveServer{a, b}
	for _, s := range replicas {
		waitHost(t, s, "Localhost", 20*time.Second, wire.HostConnected)
	}

	label := faultLabel(t)
	forever := testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "1s"}, Labels: map[string]string{faultLabelKey: label}}
	stopped, _ := testenv.Run(t, c, forever)
	removed, _ := testenv.Run(t, c, forever)
	// changes counts the record's reconciled changes by container and action.
	changes := func() map[string]int {
		n := map[string]int{}
		for _, ev := range storedEvents(t, a.URL, label) {
			if ev.Actor.Attributes[wire.ReconciledAttribute] == "true" {
				n[ev.Actor.ID+" "+ev.Action]++
			}
		}
		return n
	}
	waitUntil(t, 20*time.Second, "both creates and starts in the shared record", func() bool { return len(storedEvents(t, a.URL, label)) == 4 })

	proxy.Cut()
	for _, s := range replicas {
		waitHost(t, s, "Localhost", 10*time.Second, wire.HostUnreachable)
	}
	testenv.Stop(t, c, stopped)
	if _, err := c.ContainerRemove(context.Background(), removed, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	testenv.FloodEngineMemory(t, c)
	proxy.Restore()

	want := map[string]bool{stopped + " die": true, removed + " die": true, removed + " destroy": true}
	for _, s := range replicas {
		waitHost(t, s, "Localhost", 30*time.Second, wire.HostConnected)
	}
	waitUntil(t, 30*time.Second, "the reconciled changes in the record", func() bool { return len(changes()) >= len(want) })
	time.Sleep(2 * time.Second) // the other replica's copies, were they stored, would be in by now
	for change, n := range changes() {
		if !want[change] {
			t.Errorf("reconciled %s, which did not happen", change)
		} else if n != 1 {
			t.Errorf("reconciled %s stored %d times", change, n)
		}
	}
	var gaps []wire.Event
	getJSON(t, a.URL+"/api/v1/events?type=gap&tag=host:Localhost", &gaps)
	if len(gaps) == 0 {
		t.Errorf("no gap recorded")
	}
	t.Logf("%d gap events recorded (one per replica that found the gap)", len(gaps))
}

// waitUntil polls cond until it holds, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, d)
		}
	}
}
