package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"
)

// hyperClientSign signs req the way Hyper's example websocket client does
// (hyperhq/websocket-client, go/util/sign4.go, Sign4 with a region), one step
// of that client per step here, so tests reach the verifier exactly as the
// client would. It is written from a reading of that client, independently of
// the verifier in auth_hyper.go, so a shared misreading does not hide. now is
// the signing time (the client uses the clock).
func hyperClientSign(req *http.Request, access, secret, region string, now time.Time) {
	// Step 1 (prepare): default Content-Type application/json and
	// X-Hyper-Date (UTC, 20060102T150405Z) unless set; "/" for an empty path.
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("X-Hyper-Date") == "" {
		req.Header.Set("X-Hyper-Date", now.UTC().Format("20060102T150405Z"))
	}
	if req.URL.Path == "" {
		req.URL.Path = "/"
	}

	// Step 2: read the body whole (empty if none), put it back, and send
	// its hex SHA-256 as X-Hyper-Content-Sha256.
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	payload := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(payload[:])
	req.Header.Set("X-Hyper-Content-Sha256", payloadHash)

	// Step 3: a Host header from the URL, port and all, so it is signed.
	// (The client's websocket library then sends it as the Host.)
	req.Header.Set("Host", req.URL.Host)

	// Step 4: sign Content-Type, Content-Md5, Host and every X-Hyper-*
	// header present, lower-cased and sorted; each value trimmed, and the
	// host without its port if that port is 80 or 443 (looking only at what
	// follows the first colon).
	var names []string
	for k := range req.Header {
		if k == "Content-Type" || k == "Content-Md5" || k == "Host" || strings.HasPrefix(k, "X-Hyper-") {
			names = append(names, strings.ToLower(k))
		}
	}
	sort.Strings(names)
	canonHeaders := ""
	for _, n := range names {
		v := strings.TrimSpace(req.Header.Get(n))
		if n == "host" && strings.Contains(v, ":") {
			if p := strings.Split(v, ":"); p[1] == "80" || p[1] == "443" {
				v = p[0]
			}
		}
		canonHeaders += n + ":" + v + "\n"
	}
	signedHeaders := strings.Join(names, ";")

	// Step 5: the canonical path drops empty segments (no leading slash)
	// and escapes all but A-Z a-z 0-9 - _ . ~ as %XX, upper-case hex.
	var segs []string
	for _, s := range strings.Split(req.URL.Path, "/") {
		if s == "" {
			continue
		}
		esc := ""
		for _, c := range []byte(s) {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-_.~", c) >= 0:
				esc += string(c)
			default:
				esc += "%" + strings.ToUpper(hex.EncodeToString([]byte{c}))
			}
		}
		segs = append(segs, esc)
	}
	// Step 6: the canonical query is Go's parse of the URL's query,
	// re-encoded (sorted keys), with "+" turned into "%20".
	query := strings.ReplaceAll(req.URL.Query().Encode(), "+", "%20")

	// Step 7: the canonical request, newline-joined, and its hash.
	canonical := strings.Join([]string{req.Method, strings.Join(segs, "/"), query, canonHeaders, signedHeaders, payloadHash}, "\n")
	canonSum := sha256.Sum256([]byte(canonical))

	// Step 8: the credential scope. The region is the given one unless the
	// request's Host is REGION.hyper.sh (without a port).
	if strings.HasSuffix(req.Host, ".hyper.sh") {
		if p := strings.SplitN(req.Host, ".", 2); p[1] == "hyper.sh" {
			region = p[0]
		}
	}
	date := req.Header.Get("X-Hyper-Date")
	credScope := date[:8] + "/" + region + "/hyper/hyper_request"
	stringToSign := "HYPER-HMAC-SHA256\n" + date + "\n" + credScope + "\n" + hex.EncodeToString(canonSum[:])

	// Step 9: the key, HMAC-chained from "HYPER"+secret over the day, the
	// region, "hyper" and "hyper_request"; the signature is the hex HMAC of
	// the string to sign.
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	key := mac(mac(mac(mac([]byte("HYPER"+secret), date[:8]), region), "hyper"), "hyper_request")
	sig := hex.EncodeToString(mac(key, stringToSign))

	// Step 10: the Authorization header.
	req.Header.Set("Authorization", "HYPER-HMAC-SHA256 Credential="+access+"/"+credScope+", SignedHeaders="+signedHeaders+", Signature="+sig)
}

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

// hyperTestAuth is an authenticator with one read and one admin key pair and
// a fixed clock.
func hyperTestAuth(t *testing.T, now time.Time) *authenticator {
	t.Helper()
	a, err := newAuthenticator(Config{HyperKeys: []string{"AKREAD:sekrit-read", "AKADMIN:sekrit-admin:admin"}}, authQuietLog())
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
			access, secret := "AKREAD", "sekrit-read"
			if c.want == "hyper:AKADMIN" {
				access, secret = "AKADMIN", "sekrit-admin"
			}
			hyperClientSign(req, access, secret, c.region, now)
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
		hyperClientSign(req, "AKREAD", secret, "us-west-1", at)
		return hyperServerSide(req)
	}
	cases := []struct {
		name   string
		req    func() *http.Request
		status int
		msg    string
	}{
		{"wrong secret", func() *http.Request { return sign("nope", now, "") }, 401, "signature does not match"},
		{"expired", func() *http.Request { return sign("sekrit-read", now.Add(-6*time.Minute), "") }, 401, "expired"},
		{"from the future", func() *http.Request { return sign("sekrit-read", now.Add(6*time.Minute), "") }, 401, "future"},
		{"just inside the window", func() *http.Request { return sign("sekrit-read", now.Add(-4*time.Minute), "") }, 0, ""},
		{"body hash mismatch", func() *http.Request {
			r := sign("sekrit-read", now, "signed body")
			r.Body = io.NopCloser(strings.NewReader("other body"))
			return r
		}, 401, "does not match the request body"},
		{"hash header rewritten to the new body", func() *http.Request {
			r := sign("sekrit-read", now, "signed body")
			r.Body = io.NopCloser(strings.NewReader("other body"))
			sum := sha256.Sum256([]byte("other body"))
			r.Header.Set(hyperHashHeader, hex.EncodeToString(sum[:]))
			return r
		}, 401, "signature does not match"},
		{"unknown access key", func() *http.Request {
			r := sign("sekrit-read", now, "")
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AKREAD/", "AKOTHER/", 1))
			return r
		}, 401, "unknown Hyper access key"},
		{"other host", func() *http.Request {
			r := sign("sekrit-read", now, "")
			r.Host = "evil:8443"
			return r
		}, 401, "signature does not match"},
		{"query changed", func() *http.Request {
			r := sign("sekrit-read", now, "")
			r.URL.RawQuery = "tag=x"
			return r
		}, 401, "signature does not match"},
		{"host not signed", func() *http.Request {
			r := sign("sekrit-read", now, "")
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
			return r
		}, 401, "must include host"},
		{"garbage", func() *http.Request {
			r := sign("sekrit-read", now, "")
			r.Header.Set("Authorization", "HYPER-HMAC-SHA256 nonsense")
			return r
		}, 401, "malformed"},
		{"body too large", func() *http.Request {
			r := sign("sekrit-read", now, "")
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
