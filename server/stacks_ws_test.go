package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// actionTimeout bounds one stack action in the tests: the helper starts in
// a blink, the healthcheck needs a second or two.
const actionTimeout = 90 * time.Second

// TestStackLifecycle drives one two-service stack through everything the
// API offers, reading the /stacks socket and the engine at each step.
func TestStackLifecycle(t *testing.T) {
	eng := testenv.Engine(t)
	image := testenv.HelperImage(t)
	t.Cleanup(func() { testenv.RemoveAll(t, eng) })
	name := stackName(t, "life")
	cleanupProject(t, eng, name)

	srv := startServer(t)
	ws := dialWS(t, srv.WS("/stacks"), nil)
	if f := ws.nextStack(t, 5*time.Second); f.raw != `{"message":"Connection established"}` {
		t.Fatalf("greeting %s", f.raw)
	}

	var st wire.Stack
	mustAPI(t, srv, "POST", "/api/v1/stacks", wire.StackRequest{
		Name: name, Compose: twoServiceStack(t, image, "hello"), Env: "GREETING=from-env\n",
	}, &st, http.StatusCreated)
	base := "/api/v1/stacks/" + strconv.FormatInt(st.ID, 10)
	filtered := dialWS(t, srv.WS("/stacks?stack_id="+strconv.FormatInt(st.ID, 10)), nil)
	filtered.nextStack(t, 5*time.Second) // greeting

	// Deploy: pending first, progress lines, deployed last.
	mustAPI(t, srv, "POST", base+"/deploy", nil, nil, http.StatusAccepted)
	msgs := ws.untilDone(t, st.ID, actionTimeout)
	first, last := msgs[0], msgs[len(msgs)-1]
	if first.raw != `{"type":"stack-status","data":{"stack_id":`+strconv.FormatInt(st.ID, 10)+`,"status":"pending","message":"Creating stack configuration"}}` {
		t.Errorf("first message %s", first)
	}
	if last.raw != `{"type":"stack-status","data":{"stack_id":`+strconv.FormatInt(st.ID, 10)+`,"status":"deployed","message":"Stack deployed successfully"}}` {
		t.Fatalf("last message %s; all: %v", last, msgs)
	}
	var lines []string
	for _, m := range msgs[1 : len(msgs)-1] {
		if m.Type != wire.StackProgressType || m.Data.Action != wire.ActionDeploying {
			t.Errorf("between pending and deployed: %s", m)
			continue
		}
		if _, err := time.Parse(time.RFC3339, m.Data.Timestamp); err != nil || !strings.HasSuffix(m.Data.Timestamp, "Z") {
			t.Errorf("timestamp %q is not RFC 3339 UTC: %v", m.Data.Timestamp, err)
		}
		lines = append(lines, m.Data.Message)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"Creating network " + name + "_back", "Container " + name + "-web-1 Started", "Container " + name + "-db-1 Healthy"} {
		if !strings.Contains(all, want) {
			t.Errorf("no progress line %q in:\n%s", want, all)
		}
	}
	// The filtered socket saw the same messages.
	if got := filtered.untilDone(t, st.ID, 5*time.Second); len(got) != len(msgs) {
		t.Errorf("filtered socket got %d messages, unfiltered %d", len(got), len(msgs))
	}
	ctrs := projectContainers(t, eng, name)
	if len(ctrs) != 2 {
		t.Fatalf("containers after deploy: %v", ctrs)
	}
	testenv.WaitLog(t, eng, ctrs["web"], "hello from-env 1")
	if n, v := projectResources(t, eng, name); n != 1 || v != 1 {
		t.Errorf("after deploy: %d networks, %d volumes, want 1 and 1", n, v)
	}
	mustAPI(t, srv, "GET", base, nil, &st, http.StatusOK)
	if st.Status != wire.StackRunning || len(st.Services) != 2 || st.Services[0].State != "running" || st.Services[1].State != "running" {
		t.Errorf("after deploy: %+v", st)
	}

	// Stop, start, restart: each ends with the status the engine shows.
	for _, step := range []struct{ action, status string }{
		{"stop", wire.StackStopped}, {"start", wire.StackRunning}, {"restart", wire.StackRunning},
	} {
		if step.action == "start" || step.action == "restart" {
			testenv.WaitLog(t, eng, ctrs["web"], "1") // SIGTERM handler installed
		}
		mustAPI(t, srv, "POST", base+"/"+step.action, nil, nil, http.StatusAccepted)
		msgs := ws.untilDone(t, st.ID, actionTimeout)
		if last := msgs[len(msgs)-1]; last.Data.Status != step.status {
			t.Errorf("%s ended with %s; all: %v", step.action, last, msgs)
		}
		mustAPI(t, srv, "GET", base, nil, &st, http.StatusOK)
		if st.Status != step.status || st.Action != "" {
			t.Errorf("after %s: status %q action %q", step.action, st.Status, st.Action)
		}
	}

	// A second action while one runs is refused.
	mustAPI(t, srv, "POST", base+"/restart", nil, nil, http.StatusAccepted)
	if code, body := apiCall(t, srv, "POST", base+"/stop", nil, nil); code != http.StatusConflict {
		t.Errorf("stop during restart: %d %s", code, body)
	}
	if code, body := apiCall(t, srv, "PUT", base, wire.StackRequest{Compose: twoServiceStack(t, image, "x")}, nil); code != http.StatusConflict {
		t.Errorf("replace during restart: %d %s", code, body)
	}
	ws.untilDone(t, st.ID, actionTimeout)

	// Pull: the image exists only locally, so the registry refuses it.
	mustAPI(t, srv, "POST", base+"/pull", nil, nil, http.StatusAccepted)
	msgs = ws.untilDone(t, st.ID, actionTimeout)
	var pullErr *stackFrame
	for i := range msgs {
		if msgs[i].Type == wire.StackErrorType {
			pullErr = &msgs[i]
		}
	}
	repo, _, _ := strings.Cut(image, ":")
	if pullErr == nil || pullErr.Data.Action != wire.ActionPullingImages || !strings.Contains(pullErr.Data.Message, repo) {
		t.Errorf("pull of a local-only image: no stack-error naming %s; got %v", repo, msgs)
	} else {
		t.Logf("pull error: %s", pullErr.Data.Message)
	}
	if last := msgs[len(msgs)-1]; last.Data.Status != wire.StackRunning {
		t.Errorf("after the failed pull the stack should still run: %s", last)
	}

	// Replace web's command and redeploy: web is recreated, db kept.
	mustAPI(t, srv, "PUT", base, wire.StackRequest{Compose: twoServiceStack(t, image, "changed"), Env: "GREETING=again\n"}, &st, http.StatusOK)
	mustAPI(t, srv, "POST", base+"/deploy", nil, nil, http.StatusAccepted)
	// While the action runs, the stack's containers exist: the list must
	// still show them as this stack, never as an external project.
	var listed []wire.Stack
	mustAPI(t, srv, "GET", "/api/v1/stacks", nil, &listed, http.StatusOK)
	for _, l := range listed {
		if l.External && l.Name == name {
			t.Errorf("the stack is listed as external while it deploys: %+v", l)
		}
	}
	if msgs := ws.untilDone(t, st.ID, actionTimeout); msgs[len(msgs)-1].Data.Status != wire.StackDeployed {
		t.Fatalf("redeploy: %v", msgs)
	}
	after := projectContainers(t, eng, name)
	if after["db"] != ctrs["db"] {
		t.Errorf("unchanged db was recreated: %.12s → %.12s", ctrs["db"], after["db"])
	}
	if after["web"] == ctrs["web"] || after["web"] == "" {
		t.Errorf("changed web was not recreated: %.12s → %.12s", ctrs["web"], after["web"])
	}
	testenv.WaitLog(t, eng, after["web"], "changed again 1")

	// Progress was stored too, for clients that come late.
	var page []wire.Event
	mustAPI(t, srv, "GET", "/api/v1/events?type=stack&tag=stack:"+name+"&tag=action:deploying&per_page=1000", nil, &page, http.StatusOK)
	if len(page) < 4 {
		t.Errorf("stored deploy messages: %d", len(page))
	}

	// Restart crowsnest on the same data: the status is still true.
	srv.Stop()
	srv = startServerIn(t, srv.Data)
	ws = dialWS(t, srv.WS("/stacks"), nil)
	ws.nextStack(t, 5*time.Second)
	mustAPI(t, srv, "GET", base, nil, &st, http.StatusOK)
	if st.Status != wire.StackRunning {
		t.Errorf("after a restart of crowsnest: %q", st.Status)
	}

	// Delete: down, record gone, stack-removed.
	mustAPI(t, srv, "DELETE", base, nil, nil, http.StatusAccepted)
	msgs = ws.untilDone(t, st.ID, actionTimeout)
	if last := msgs[len(msgs)-1]; last.raw != `{"type":"stack-removed","data":{"stack_id":`+strconv.FormatInt(st.ID, 10)+`,"message":"Stack removed successfully"}}` {
		t.Errorf("delete ended with %s", last)
	}
	if got := projectContainers(t, eng, name); len(got) != 0 {
		t.Errorf("containers left after delete: %v", got)
	}
	if n, v := projectResources(t, eng, name); n != 0 || v != 0 {
		t.Errorf("after delete: %d networks, %d volumes left", n, v)
	}
	mustAPI(t, srv, "GET", base, nil, nil, http.StatusNotFound)
}

// TestStackCrashRecovery: records an earlier run left "pending" (a crash
// mid-deploy) are resolved at start-up to what the engine shows, or error.
func TestStackCrashRecovery(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	eng := testenv.Engine(t)
	image := testenv.HelperImage(t)
	t.Cleanup(func() { testenv.RemoveAll(t, eng) })
	name := stackName(t, "crash")
	cleanupProject(t, eng, name)

	srv := startServer(t)
	ws := dialWS(t, srv.WS("/stacks"), nil)
	ws.nextStack(t, 5*time.Second)
	var up, never wire.Stack
	mustAPI(t, srv, "POST", "/api/v1/stacks", wire.StackRequest{Name: name, Compose: twoServiceStack(t, image, "a"), Env: "GREETING=x"}, &up, http.StatusCreated)
	mustAPI(t, srv, "POST", "/api/v1/stacks", wire.StackRequest{Name: stackName(t, "never"), Compose: twoServiceStack(t, image, "b"), Env: "GREETING=y"}, &never, http.StatusCreated)
	mustAPI(t, srv, "POST", "/api/v1/stacks/"+strconv.FormatInt(up.ID, 10)+"/deploy", nil, nil, http.StatusAccepted)
	ws.untilDone(t, up.ID, actionTimeout)
	srv.Stop()

	// What a crash mid-action leaves behind.
	st, err := store.Open(filepath.Join(srv.Data, "crowsnest.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := store.NewStacks(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{up.ID, never.ID} {
		if _, err := recs.Update(context.Background(), id, func(s *wire.Stack) error {
			s.Status, s.Action = wire.StackPending, wire.ActionDeploying
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	srv = startServerIn(t, srv.Data)
	var list []wire.Stack
	deadline := time.Now().Add(10 * time.Second)
	for {
		mustAPI(t, srv, "GET", "/api/v1/stacks", nil, &list, http.StatusOK)
		got := map[int64]wire.Stack{}
		for _, s := range list {
			got[s.ID] = s
		}
		if got[up.ID].Status == wire.StackRunning && got[never.ID].Status == wire.StackError {
			if got[never.ID].Error == "" || got[up.ID].Action != "" {
				t.Errorf("resolved records: %+v / %+v", got[up.ID], got[never.ID])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending stacks not resolved: %+v", list)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStackExternal: a project started with the compose library outside
// crowsnest is listed, read-only.
func TestStackExternal(t *testing.T) {
	eng := testenv.Engine(t)
	image := testenv.HelperImage(t)
	t.Cleanup(func() { testenv.RemoveAll(t, eng) })
	name := stackName(t, "ext")
	upExternal(t, eng, name, image)

	srv := startServer(t)
	var list []wire.Stack
	mustAPI(t, srv, "GET", "/api/v1/stacks", nil, &list, http.StatusOK)
	for _, s := range list {
		if s.Name == name {
			if !s.External || s.ID != 0 || s.Status != wire.StackRunning || len(s.Services) != 1 || s.Services[0].Name != "solo" {
				t.Errorf("external stack: %+v", s)
			}
			return
		}
	}
	t.Fatalf("external project %s not listed: %+v", name, list)
}
