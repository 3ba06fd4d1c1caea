package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestStackBadInput: refused input changes nothing and says why.
func TestStackBadInput(t *testing.T) {
	srv := startServer(t)
	ws := dialWS(t, srv.WS("/stacks"), nil)
	ws.nextStack(t, 5*time.Second)
	good := "services:\n  web:\n    image: crowsnest-helper:latest\n"
	cases := []struct {
		name string
		req  wire.StackRequest
		code int
		want string
	}{
		{"yaml", wire.StackRequest{Name: "bad-yaml", Compose: "services:\n  web: [unclosed\n"}, 400, "yaml"},
		{"schema", wire.StackRequest{Name: "bad-schema", Compose: "services:\n  web:\n    imagez: x\n"}, 400, "imagez"},
		{"no image", wire.StackRequest{Name: "no-image", Compose: "services:\n  web: {}\n"}, 400, "image"},
		{"missing env_file", wire.StackRequest{Name: "no-env", Compose: good + "    env_file: [nope.env]\n"}, 400, "nope.env"},
		{"name", wire.StackRequest{Name: "Bad Name", Compose: good}, 400, "name"},
		{"host", wire.StackRequest{Name: "ok", Compose: good, Host: "nowhere"}, 400, "nowhere"},
		{"aliases", wire.StackRequest{Name: "laughs", Compose: laughs()}, 400, "alias"},
		{"too large", wire.StackRequest{Name: "big", Compose: good + "# " + strings.Repeat("x", 1<<20)}, 413, ""},
	}
	for _, c := range cases {
		code, body := apiCall(t, srv, "POST", "/api/v1/stacks", c.req, nil)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d containing %q", c.name, code, body, c.code, c.want)
		}
	}
	var list []wire.Stack
	mustAPI(t, srv, "GET", "/api/v1/stacks", nil, &list, http.StatusOK)
	for _, s := range list {
		if !s.External {
			t.Errorf("a refused stack was stored: %+v", s)
		}
	}
	// The socket heard of the refusals, with stack_id 0.
	f := ws.nextStack(t, 5*time.Second)
	if f.Type != wire.StackErrorType || f.Data.StackID != 0 || !strings.Contains(f.Data.Message, "bad-yaml") {
		t.Errorf("first refusal on the socket: %s", f)
	}

	var st wire.Stack
	mustAPI(t, srv, "POST", "/api/v1/stacks", wire.StackRequest{Name: "dup", Compose: good}, &st, http.StatusCreated)
	mustAPI(t, srv, "POST", "/api/v1/stacks", wire.StackRequest{Name: "dup", Compose: good}, nil, http.StatusConflict)
	mustAPI(t, srv, "PUT", "/api/v1/stacks/1", wire.StackRequest{Compose: "services: ["}, nil, http.StatusBadRequest)
	mustAPI(t, srv, "GET", "/api/v1/stacks/1", nil, &st, http.StatusOK)
	if st.Compose != good {
		t.Errorf("a refused replace changed the stack: %q", st.Compose)
	}
	mustAPI(t, srv, "POST", "/api/v1/stacks/1/explode", nil, nil, http.StatusNotFound)
	mustAPI(t, srv, "GET", "/api/v1/stacks/99", nil, nil, http.StatusNotFound)
	mustAPI(t, srv, "GET", "/api/v1/stacks/x", nil, nil, http.StatusBadRequest)
}

// laughs is a YAML alias bomb.
func laughs() string {
	var b strings.Builder
	b.WriteString("x-a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n")
	prev := "a"
	for i := range 8 {
		n := string(rune('b' + i))
		b.WriteString("x-" + n + ": &" + n + " [")
		for j := range 9 {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = n
	}
	b.WriteString("services:\n  web:\n    image: x\n")
	return b.String()
}
