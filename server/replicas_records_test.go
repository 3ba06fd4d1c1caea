package main

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/natstest"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestReplicasShareRecords: a stack created through replica a is listed
// and read through replica b; an alert rule created through a is listed
// on b, its name is taken there too, and b evaluates it: with a stopped, a
// crash is alerted by b.
func TestReplicasShareRecords(t *testing.T) {
	testenv.Engine(t)
	image := testenv.HelperImage(t)
	nats := natstest.Single(t)
	a := alertServer(t, "--store", nats)
	b := alertServer(t, "--store", nats)
	waitConnected(t, a.URL)
	waitConnected(t, b.URL)

	name := stackName(t, "shared")
	var st wire.Stack
	mustAPI(t, a, "POST", "/api/v1/stacks", wire.StackRequest{Name: name, Compose: twoServiceStack(t, image, "hello"), Env: "GREETING=x\n"}, &st, http.StatusCreated)
	var listed []wire.Stack
	mustAPI(t, b, "GET", "/api/v1/stacks", nil, &listed, http.StatusOK)
	if !hasStack(listed, st.ID, name) {
		t.Fatalf("replica b does not list the stack created on a (%d %s): %+v", st.ID, name, listed)
	}
	var got wire.Stack
	mustAPI(t, b, "GET", "/api/v1/stacks/"+strconv.FormatInt(st.ID, 10), nil, &got, http.StatusOK)
	if got.Name != name || got.Compose != st.Compose || len(got.Services) != 2 {
		t.Fatalf("replica b reads the stack as %+v, want %s with its compose text and two services", got, name)
	}
	mustAPI(t, b, "POST", "/api/v1/stacks", wire.StackRequest{Name: name, Compose: twoServiceStack(t, image, "hello"), Env: "GREETING=x\n"}, nil, http.StatusConflict)

	rc := newReceiver(t, 0)
	rule := createRule(t, a, wire.AlertRule{Name: "crash " + t.Name(), Enabled: true, Kind: "event", Filters: labelFilter(t, "die"),
		When: `exitCode != 0`, Notify: []string{rc.URL}})
	var rules []wire.AlertRule
	mustAPI(t, b, "GET", "/api/v1/alerts", nil, &rules, http.StatusOK)
	if len(rules) != 1 || rules[0].ID != rule.ID {
		t.Fatalf("replica b lists %+v, want the rule created on a", rules)
	}
	mustAPI(t, b, "POST", "/api/v1/alerts", rule, nil, http.StatusConflict)
	// The test notification is sent from b's compiled rules: once it
	// answers 200, b evaluates the rule.
	testPath := "/api/v1/alerts/" + strconv.FormatInt(rule.ID, 10) + "/test"
	deadline := time.Now().Add(30 * time.Second)
	for code, body := apiCall(t, b, "POST", testPath, nil, nil); code != http.StatusOK; code, body = apiCall(t, b, "POST", testPath, nil, nil) {
		if time.Now().After(deadline) {
			t.Fatalf("replica b never took up the rule created on a: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	tests := len(rc.wait(t, 1, 30*time.Second))

	a.Stop()
	_, crashed := runLabelled(t, testenv.RunOptions{Args: []string{"-lines", "1", "-exit", "3"}})
	alerts := rc.wait(t, tests+1, 30*time.Second)
	if al := alerts[len(alerts)-1].alert; al.Test || al.Container.Name != crashed {
		t.Fatalf("with a stopped, the webhook got %+v, want b's alert of the crash of %s", al, crashed)
	}
}

func hasStack(list []wire.Stack, id int64, name string) bool {
	for _, s := range list {
		if s.ID == id && s.Name == name {
			return true
		}
	}
	return false
}
