package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// hyperServerSide turns a client request into what the server's handler sees:
// the Host header moves to r.Host, as net/http does on the wire.
func hyperServerSide(req *http.Request) *http.Request {
	r := httptest.NewRequest(req.Method, req.URL.RequestURI(), req.Body)
	r.Header = req.Header.Clone()
	r.Host = req.Header.Get("Host")
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.Header.Del("Host")
	return r
}

// hyperTestAuth is an Authenticator with one read and one admin key pair and
// a fixed clock.
func hyperTestAuth(t *testing.T, now time.Time) *Authenticator {
	t.Helper()
	a, err := New(Options{HyperKeys: []string{"AKREAD:sekrit-read-0123456", "AKADMIN:sekrit-admin-012345:admin"}}, authQuietLog())
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return now }
	return a
}

// TestHyperSignerRoundTrip: requests signed as Hyper's client signs them verify, and the handler still reads the body.
func TestHyperSignerRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	a := hyperTestAuth(t, now)
	cases := []struct {
		name, method, url, body string
		region                  string
		want                    string // principal id
	}{
		{"websocket upgrade, no filters", "GET", "wss://crowsnest.example:8443/events/ws", "", "us-west-1", "hyper:AKREAD"},
		{"raw JSON filters as the client sends them", "GET", `wss://crowsnest.example:443/events/ws?filters={"container":{"test":true},"label":{"a=b":true}}`, "", "eu-central-1", "hyper:AKREAD"},
		{"escaped query, odd path", "GET", "https://10.0.0.1/api/v1//events?tag=a%2Bb&tag=x%20y&type=t", "", "RegionOne", "hyper:AKREAD"},
		{"post with a body", "POST", "https://crowsnest.example/api/v1/events", `{"tags":["a:b"]}`, "us-west-1", "hyper:AKADMIN"},
		{"region from a hyper.sh host", "GET", "https://us-west-1.hyper.sh/events/ws", "", "ignored", "hyper:AKREAD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			access, secret := "AKREAD", "sekrit-read-0123456"
			if c.want == "hyper:AKADMIN" {
				access, secret = "AKADMIN", "sekrit-admin-012345"
			}
			testenv.HyperSign(req, access, secret, c.region, now)
			r := hyperServerSide(req)
			_, o := a.check(r)
			if o.err != nil {
				t.Fatalf("refused: %d %s", o.err.status, o.err.msg)
			}
			if o.p == nil || o.p.id != c.want {
				t.Fatalf("principal %+v, want %s", o.p, c.want)
			}
			got, _ := io.ReadAll(r.Body)
			if string(got) != c.body {
				t.Fatalf("handler reads body %q, want %q", got, c.body)
			}
		})
	}
}

// TestHyperVerifyRefusals: every way a signature can be wrong is refused with the status and reason a client can act on.
func TestHyperVerifyRefusals(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	a := hyperTestAuth(t, now)
	sign := func(secret string, at time.Time, body string) *http.Request {
		req, _ := http.NewRequest("POST", "https://h:8443/api/v1/events", strings.NewReader(body))
		testenv.HyperSign(req, "AKREAD", secret, "us-west-1", at)
		return hyperServerSide(req)
	}
	cases := []struct {
		name   string
		req    func() *http.Request
		status int
		msg    string
	}{
		{"wrong secret", func() *http.Request { return sign("nope", now, "") }, 401, "signature does not match"},
		{"expired", func() *http.Request { return sign("sekrit-read-0123456", now.Add(-6*time.Minute), "") }, 401, "expired"},
		{"from the future", func() *http.Request { return sign("sekrit-read-0123456", now.Add(6*time.Minute), "") }, 401, "future"},
		{"just inside the window", func() *http.Request { return sign("sekrit-read-0123456", now.Add(-4*time.Minute), "") }, 0, ""},
		{"body hash mismatch", func() *http.Request {
			r := sign("sekrit-read-0123456", now, "signed body")
			r.Body = io.NopCloser(strings.NewReader("other body"))
			return r
		}, 401, "does not match the request body"},
		{"hash header rewritten to the new body", func() *http.Request {
			r := sign("sekrit-read-0123456", now, "signed body")
			r.Body = io.NopCloser(strings.NewReader("other body"))
			sum := sha256.Sum256([]byte("other body"))
			r.Header.Set(hyperHashHeader, hex.EncodeToString(sum[:]))
			return r
		}, 401, "signature does not match"},
		{"unknown access key", func() *http.Request {
			r := sign("sekrit-read-0123456", now, "")
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AKREAD/", "AKOTHER/", 1))
			return r
		}, 401, "unknown Hyper access key"},
		{"other host", func() *http.Request {
			r := sign("sekrit-read-0123456", now, "")
			r.Host = "evil:8443"
			return r
		}, 401, "signature does not match"},
		{"query changed", func() *http.Request {
			r := sign("sekrit-read-0123456", now, "")
			r.URL.RawQuery = "tag=x"
			return r
		}, 401, "signature does not match"},
		{"host not signed", func() *http.Request {
			r := sign("sekrit-read-0123456", now, "")
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
			return r
		}, 401, "must include host"},
		{"garbage", func() *http.Request {
			r := sign("sekrit-read-0123456", now, "")
			r.Header.Set("Authorization", "HYPER-HMAC-SHA256 nonsense")
			return r
		}, 401, "malformed"},
		{"body too large", func() *http.Request {
			r := sign("sekrit-read-0123456", now, "")
			r.Body = io.NopCloser(io.LimitReader(hyperZeroReader{}, maxSignedBodyLen+10))
			return r
		}, 413, "over"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, o := a.check(c.req())
			if c.status == 0 {
				if o.err != nil || o.p == nil {
					t.Fatalf("want accepted, got %+v", o.err)
				}
				return
			}
			if o.err == nil {
				t.Fatalf("accepted, want %d", c.status)
			}
			if o.err.status != c.status || !strings.Contains(o.err.msg, c.msg) {
				t.Fatalf("got %d %q, want %d containing %q", o.err.status, o.err.msg, c.status, c.msg)
			}
		})
	}
}

// hyperZeroReader reads zeros forever.
type hyperZeroReader struct{}

// Read fills p with zeros.
func (hyperZeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestHyperCanonicalPieces: the canonical path, host and query follow Hyper's client, not AWS's.
func TestHyperCanonicalPieces(t *testing.T) {
	for in, want := range map[string]string{"": "", "/": "", "/events/ws": "events/ws", "//a//b/": "a/b", "/a b/ü": "a%20b/%C3%BC"} {
		if got := hyperPath(in); got != want {
			t.Errorf("hyperPath(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"h:443": "h", "h:80": "h", "h:8443": "h:8443", "h": "h", "[::1]:443": "[::1]:443"} {
		if got := hyperHost(in); got != want {
			t.Errorf("hyperHost(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := hyperQuery(`filters={"a":{"b c":true}}&x=1`), "filters=%7B%22a%22%3A%7B%22b%20c%22%3Atrue%7D%7D&x=1"; got != want {
		t.Errorf("hyperQuery = %q, want %q", got, want)
	}
}
