package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBrowserHeadersOnOpenServer plays, with raw requests, what a foreign
// page, a rebound DNS name and a script send to an open loopback server:
// the first two change and read nothing, the script works as before.
func TestBrowserHeadersOnOpenServer(t *testing.T) {
	s := startServer(t, "--host", noEngine, "--request-rate", "0")
	stack := `{"name":"csrf","compose":"services:\n  web:\n    image: nginx\n"}`
	do := func(method, path, ctype, body string, hdr map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	foreign := map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}
	for _, c := range []struct {
		name             string
		method, path, ct string
		body             string
		hdr              map[string]string
		want             int
	}{
		{"foreign page, text/plain stack", "POST", "/api/v1/stacks", "text/plain", stack, foreign, 403},
		{"foreign page, JSON stack (no-cors cannot, but a proxy could)", "POST", "/api/v1/stacks", "application/json", stack, foreign, 403},
		{"foreign page, body-less deploy", "POST", "/api/v1/stacks/1/deploy", "", "", foreign, 403},
		{"foreign page, restart", "POST", "/api/v1/containers/web/restart", "", "", foreign, 403},
		{"foreign page, event", "POST", "/api/v1/events", "text/plain", `{"tags":["x"]}`, foreign, 403},
		{"old browser: Origin only", "POST", "/api/v1/events", "application/json", `{"tags":["x"]}`, map[string]string{"Origin": "http://evil.example"}, 403},
		{"cross-site Sec-Fetch-Site only", "DELETE", "/api/v1/stacks/1", "", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"rebound name, same-origin by its own account", "POST", "/api/v1/stacks", "application/json", stack, map[string]string{"Host": "rebind.example:8080", "Origin": "http://rebind.example:8080", "Sec-Fetch-Site": "same-origin"}, 421},
		{"rebound name, read", "GET", "/api/v1/containers", "", "", map[string]string{"Host": "rebind.example"}, 421},
		{"script, text/plain stack", "POST", "/api/v1/stacks", "text/plain", stack, nil, 415},
		{"script, untyped event", "POST", "/api/v1/events", "", `{"tags":["x"]}`, nil, 415},
	} {
		if got, body := do(c.method, c.path, c.ct, c.body, c.hdr); got != c.want {
			t.Errorf("%s: %s %s → %d %s, want %d", c.name, c.method, c.path, got, body, c.want)
		}
	}
	// Nothing of the above was stored.
	if _, body := do("GET", "/api/v1/events?tag=x", "", "", nil); body != "[]" && !strings.HasPrefix(body, "[]") {
		t.Errorf("events stored by refused requests: %s", body)
	}
	// The same requests without browser headers, or from the UI's own
	// origin, work.
	own := map[string]string{"Origin": s.URL, "Sec-Fetch-Site": "same-origin"}
	if got, body := do("POST", "/api/v1/events", "application/json", `{"tags":["x"]}`, own); got != http.StatusCreated {
		t.Errorf("same-origin event: %d %s", got, body)
	}
	if got, body := do("POST", "/api/v1/events", "application/json", `{"tags":["x"]}`, nil); got != http.StatusCreated {
		t.Errorf("script event: %d %s", got, body)
	}
	if got, body := do("POST", "/api/v1/events", "application/json", `{"tags":["x"]}`, map[string]string{"Host": "localhost"}); got != http.StatusCreated {
		t.Errorf("event via localhost: %d %s", got, body)
	}
}

// TestPublicURLTrustedOrigin: a page at --public-url (a proxy's origin,
// which differs from the Host crowsnest sees) may post.
func TestPublicURLTrustedOrigin(t *testing.T) {
	s := startServer(t, "--host", noEngine, "--request-rate", "0", "--public-url", "https://crowsnest.example.com")
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/events", strings.NewReader(`{"tags":["x"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://crowsnest.example.com")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("post from the public URL's origin: %d, want 201", resp.StatusCode)
	}
}
