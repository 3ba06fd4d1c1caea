package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestHugeQueryIsJSON431 sends a filters value far past the 64 KiB header
// limit: the answer is 431 with the API's JSON error, as every other
// refusal is, not net/http's plain text.
func TestHugeQueryIsJSON431(t *testing.T) {
	srv := startServer(t)
	for _, path := range []string{"/events/ws?filters=", "/api/v1/events?type="} {
		resp, err := http.Get(srv.URL + path + url.QueryEscape(strings.Repeat("x", 200<<10)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var msg wire.Message
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
			json.Unmarshal(body, &msg) != nil || msg.Message == "" {
			t.Errorf("%s…: %d %s %q, want 431 with a JSON {message}", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// TestPerPageBelowOneIs400 checks that a page size below 1 is refused,
// not silently replaced.
func TestPerPageBelowOneIs400(t *testing.T) {
	srv := startServer(t)
	for _, v := range []string{"-1", "0"} {
		if got, body := apiCall(t, srv, "GET", "/api/v1/events?per_page="+v, nil, nil); got != http.StatusBadRequest || !strings.Contains(body, "per_page") {
			t.Errorf("per_page=%s: %d %s, want 400 naming per_page", v, got, body)
		}
	}
}

// TestRefusedCreateIsLabelledCreating checks the stack-error of a refused
// create names the step that failed (nothing was being deployed), and
// not the data directory.
func TestRefusedCreateIsLabelledCreating(t *testing.T) {
	testenv.Engine(t)
	srv := startServer(t)
	ws := dialWS(t, srv.WS("/stacks"), nil)
	ws.nextStack(t, 5*time.Second) // greeting
	mustAPI(t, srv, "POST", "/api/v1/stacks", wire.StackRequest{
		Name: stackName(t, "label"), Compose: "services:\n  a:\n    image: [1]\n",
	}, nil, http.StatusBadRequest)
	f := ws.nextStack(t, 5*time.Second)
	if f.Type != wire.StackErrorType || f.Data.Action != "creating" || f.Data.StackID != 0 {
		t.Errorf("after a refused create: %s, want a stack-error with action creating and stack_id 0", f)
	}
	if strings.Contains(f.Data.Message, srv.Data) || strings.Contains(f.Data.Message, ".staging-") {
		t.Errorf("the refusal shows where the data directory is: %s", f)
	}
}
