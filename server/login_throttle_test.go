package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShortTokensRefusedAtStart: the binary refuses, with a clear error and
// a non-zero exit, every credential shorter than 16 characters, wherever
// it is configured, and never prints the secret.
func TestShortTokensRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("admin:sh0rt-in-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		args   []string
		env    string
		secret string
	}{
		{"--token", []string{"--token", "admin:abc"}, "", "abc"},
		{"CROWSNEST_TOKEN", nil, "CROWSNEST_TOKEN=read:0123456789abcde", "0123456789abcde"},
		{"--token-file", []string{"--token-file", file}, "", "sh0rt-in-file"},
		{"--hyper-key", []string{"--hyper-key", "AKSHORT:hyp3r-secret"}, "", "hyp3r-secret"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, crowsnestBinary(t), append([]string{"--addr", freeAddr(t), "--data", t.TempDir()}, c.args...)...)
			cmd.Env = append(os.Environ(), c.env)
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("started or hung (err %v): %s", err, out)
			}
			if !strings.Contains(string(out), "at least 16") {
				t.Errorf("the error does not say the minimum: %s", out)
			}
			if strings.Contains(string(out), c.secret) {
				t.Errorf("the error shows the secret: %s", out)
			}
		})
	}
}

// TestLoginThrottle: after five wrong tokens from one client each further
// try waits (429 with Retry-After), even with the right token; every
// failure is logged without the token and counted in /metrics.
func TestLoginThrottle(t *testing.T) {
	const admin, wrong = "throttle-admin-0123456789", "throttle-wrong-guess-9876"
	base, logs := startLogged(t, "--token", "admin:"+admin)

	login := func(token string) *http.Response {
		t.Helper()
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.PostForm(base+"/login", url.Values{"token": {token}, "next": {"/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 5 {
		if resp := login(wrong); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token #%d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	// The sixth failure starts the backoff (1 s).
	if resp := login(wrong); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token #6: %d, want 401", resp.StatusCode)
	}
	resp := login(admin)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the right token during the backoff: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	mresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	metrics := string(body)
	for _, want := range []string{`crowsnest_login_failures_total{reason="wrong-token"} 6`, `crowsnest_login_failures_total{reason="throttled"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for login(admin).StatusCode != http.StatusSeeOther {
		if time.Now().After(deadline) {
			t.Fatal("the right token never got in after the backoff")
		}
		time.Sleep(250 * time.Millisecond)
	}
	out := logs.String()
	if n := strings.Count(out, "login refused"); n < 7 {
		t.Errorf("%d refused logins logged, want 7:\n%s", n, out)
	}
	if strings.Contains(out, wrong) || strings.Contains(out, admin) {
		t.Errorf("a token reached the log:\n%s", out)
	}
}

// startLogged runs crowsnest in this process as startServer does, at log
// level info, and returns its URL and everything it logs.
func startLogged(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	addr := freeAddr(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--addr", addr, "--data", t.TempDir()}, args...), func(string) string { return "" }, logs)
	}()
	t.Cleanup(func() { cancel(); <-done })
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return base, logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on %s: %v", base, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
