package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// TestContainerActions drives start, stop and restart against the real
// engine and checks the engine's view after each answer: 204 means done.
func TestContainerActions(t *testing.T) {
	cli := testenv.Engine(t)
	id, name := testenv.Run(t, cli, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "5m"}})
	testenv.WaitLog(t, cli, id, "line 1")
	s := startServer(t)

	post := func(path string, want int) string {
		t.Helper()
		resp, err := http.Post(s.URL+path, "", nil)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("POST %s: read: %v", path, err)
		}
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d %s, want %d", path, resp.StatusCode, body, want)
		}
		if want >= 400 {
			var m wire.Message
			if err := json.Unmarshal(body, &m); err != nil || m.Message == "" {
				t.Errorf("POST %s: error body %q is not {\"message\"}", path, body)
			}
			return m.Message
		}
		return ""
	}
	inspect := func() container.InspectResponse {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatalf("inspect %s: %v", name, err)
		}
		return res.Container
	}

	// By name: stop waits for the container to be down.
	post("/api/v1/containers/"+name+"/stop", http.StatusNoContent)
	if st := inspect().State; st.Running {
		t.Fatalf("after stop: state %+v", st)
	}
	// Stopping a stopped container is done already, not an error.
	post("/api/v1/containers/"+name+"/stop", http.StatusNoContent)

	// By ID prefix, on the named host.
	post("/api/v1/containers/"+id[:12]+"/start?host=Localhost", http.StatusNoContent)
	before := inspect()
	if !before.State.Running {
		t.Fatalf("after start: state %+v", before.State)
	}

	post("/api/v1/containers/"+id+"/restart", http.StatusNoContent)
	after := inspect()
	if !after.State.Running || after.State.StartedAt == before.State.StartedAt {
		t.Errorf("after restart: running %v, started %s (before %s)", after.State.Running, after.State.StartedAt, before.State.StartedAt)
	}

	// Unknown container, action or host: 404 with a message.
	post("/api/v1/containers/no-such-container-here/start", http.StatusNotFound)
	if msg := post("/api/v1/containers/"+name+"/explode", http.StatusNotFound); !strings.Contains(msg, "start, stop or restart") {
		t.Errorf("unknown action: %q", msg)
	}
	post("/api/v1/containers/"+name+"/stop?host=Nowhere", http.StatusNotFound)
	if st := inspect().State; !st.Running {
		t.Error("a refused request changed the container")
	}

	// An engine refusal is a 500 carrying the engine's words.
	bad := createUnstartable(t, cli)
	msg := post("/api/v1/containers/"+bad+"/start", http.StatusInternalServerError)
	if !strings.Contains(msg, "no-such-binary") {
		t.Errorf("engine error not passed on: %q", msg)
	}
}

// createUnstartable creates (but does not start) a container whose
// entrypoint does not exist in the image, so the engine refuses to start it.
func createUnstartable(t *testing.T, cli *client.Client) string {
	t.Helper()
	key, value := testenv.Label(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:      testenv.HelperImage(t),
			Entrypoint: []string{"/no-such-binary"},
			Labels:     map[string]string{key: value},
		},
	})
	if err != nil {
		t.Fatalf("create an unstartable container: %v", err)
	}
	t.Cleanup(func() { testenv.RemoveAll(t, cli) })
	return res.ID
}

// TestSessionScope: /api/v1/session reports the caller's scope with the
// authenticator's verdict, and an open server reports admin.
func TestSessionScope(t *testing.T) {
	get := func(base string, header http.Header) wire.Session {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+"/api/v1/session", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/session: %d", resp.StatusCode)
		}
		var s wire.Session
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatalf("decode session: %v", err)
		}
		return s
	}
	// No engine is needed: the session is about credentials only.
	const offline = "Localhost=unix:///nonexistent/docker.sock"
	open := startServer(t, "--host", offline)
	if s := get(open.URL, nil); s != (wire.Session{Auth: false, Scope: "admin", Exec: true}) {
		t.Errorf("open server: %+v", s)
	}

	const readTok, adminTok = "read-token-0123456789abcdef", "admin-token-0123456789abcdef"
	srv := startServer(t, "--host", offline, "--token", "read:"+readTok, "--token", "admin:"+adminTok)
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	cookie := func(tok string) http.Header {
		return http.Header{"Cookie": {auth.SessionCookie + "=" + loginSession(t, srv.URL, tok)}}
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"no credential", nil, ""},
		{"read token", bearer(readTok), "read"},
		{"admin token", bearer(adminTok), "admin"},
		{"admin session cookie", cookie(adminTok), "admin"},
		{"the token as the cookie", http.Header{"Cookie": {auth.SessionCookie + "=" + adminTok}}, ""},
		{"wrong token", bearer("not-a-configured-token"), ""},
	} {
		if s := get(srv.URL, tc.header); s != (wire.Session{Auth: true, Scope: tc.want, Exec: tc.want == "admin"}) {
			t.Errorf("%s: %+v, want scope %q", tc.name, s, tc.want)
		}
	}
}
