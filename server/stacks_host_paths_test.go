package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestStackCreateReadsNoHostFiles plays an admin whose compose files point
// at host files (/etc/shadow, a file with a marker outside the stack's
// directory) through include, extends, env_file, label_file and relative
// paths, while a read token watches /stacks. Every create is refused with
// 400, and no answer, socket message, stored event or log line holds a
// line of those files; with --stacks-allow-host-paths the files are read
// but still never quoted.
func TestStackCreateReadsNoHostFiles(t *testing.T) {
	testenv.Engine(t)
	const admin, reader = "hostpaths-admin-0123456789", "hostpaths-read-0123456789"
	const marker = "OUTSIDE-MARKER-7d1e9b"
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("root:$6$"+marker+":19000:0:99999:7:::\n\"unterminated "+marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var leaks []string // what must never show: the marker and every line of /etc/shadow
	leaks = append(leaks, marker)
	if shadow, err := os.ReadFile("/etc/shadow"); err == nil {
		for _, l := range strings.Split(string(shadow), "\n") {
			if len(l) > 8 {
				leaks = append(leaks, l)
			}
		}
	}
	svc := "services:\n  a:\n    image: busybox\n"
	composes := map[string]string{
		"include-shadow":   "include: [/etc/shadow]\n" + svc,
		"include-relative": "include: [../../../../../../../../../../etc/shadow]\n" + svc,
		"include-marker":   "include: [" + secret + "]\n" + svc,
		"extends":          "services:\n  a:\n    image: busybox\n    extends: {file: " + secret + ", service: a}\n",
		"env-file":         "services:\n  a:\n    image: busybox\n    env_file: /etc/shadow\n",
		"env-file-marker":  "services:\n  a:\n    image: busybox\n    env_file: [" + secret + "]\n",
		"label-file":       "services:\n  a:\n    image: busybox\n    label_file: " + secret + "\n",
	}
	check := func(t *testing.T, args ...string) {
		base, logs := startLogged(t, append([]string{"--token", "admin:" + admin, "--token", "read:" + reader}, args...)...)
		ws := dialWS(t, "ws"+strings.TrimPrefix(base, "http")+"/stacks", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + reader}}})
		ws.nextStack(t, 5*time.Second) // greeting
		var seen []string
		allowed, refused := len(args) > 0, len(composes)
		for suffix, compose := range composes {
			body, _ := json.Marshal(wire.StackRequest{Name: stackName(t, suffix), Compose: compose})
			status, answer := call(t, "POST", base+"/api/v1/stacks", admin, string(body))
			if status == http.StatusCreated && allowed && suffix == "env-file" {
				// /etc/shadow parses as an env file: allowed, it is the
				// admin's to read, and its values go only to the containers.
				refused--
				continue
			}
			if status != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400", suffix, status, answer)
			}
			f := ws.nextStack(t, 5*time.Second)
			if f.Type != wire.StackErrorType {
				t.Errorf("%s: the read token got %s, want a stack-error", suffix, f)
			}
			seen = append(seen, suffix+" answer: "+answer, suffix+" socket: "+f.raw)
		}
		// The manager stores its messages in the background: wait for them.
		var events string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, events = call(t, "GET", base+"/api/v1/events?type="+wire.StackEventType+"&per_page=1000", reader, "")
			n := strings.Count(events, `"message:stack-error"`)
			if n == refused {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the store holds %d stack-error events, want %d: %s", n, refused, events)
			}
		}
		seen = append(seen, "events: "+events, "log: "+logs.String())
		for _, s := range seen {
			for _, l := range leaks {
				if strings.Contains(s, l) {
					t.Errorf("a host file's line %q shows in %s", l, s)
				}
			}
		}
		t.Log(strings.Join(seen[:2*refused], "\n"))
	}
	t.Run("default", func(t *testing.T) { check(t) })
	t.Run("host paths allowed", func(t *testing.T) { check(t, "--stacks-allow-host-paths") })
}

// call sends one request with a bearer token and returns status and body.
func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}
