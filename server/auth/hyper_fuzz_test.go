package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// hyperFuzzNow is the verifier's clock in the fuzz test, so seeds signed at
// that time stay valid for ever.
var hyperFuzzNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// hyperFuzzAuth is an Authenticator holding key AKFUZZ with secret.
func hyperFuzzAuth(t testing.TB, secret string) *Authenticator {
	a, err := New(Options{HyperKeys: []string{"AKFUZZ:" + secret + ":admin"}}, authQuietLog())
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return hyperFuzzNow }
	return a
}

// hyperFuzzRequest builds the request the server would see. It is built by
// hand, not with httptest.NewRequest (which panics on a bad target), so
// every fuzzed path and query reaches the verifier.
func hyperFuzzRequest(method, path, rawQuery, host, authz, date, hash, ctype string, body []byte) *http.Request {
	h := http.Header{}
	for k, v := range map[string]string{"Authorization": authz, hyperDateHeader: date, hyperHashHeader: hash, "Content-Type": ctype} {
		if v != "" {
			h.Set(k, v)
		}
	}
	return &http.Request{
		Method: method, URL: &url.URL{Path: path, RawQuery: rawQuery}, Host: host,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
	}
}

// FuzzHyperAuthorization feeds the verifier arbitrary Authorization, date,
// hash and Host headers, paths, queries and bodies. It must never panic, and
// never accept a request that is not signed with the secret: whatever it
// accepts under one secret it must refuse under another, with the date in
// the window, host and date signed, the body hash true, and the body still
// whole for the handler. Seeds are real signatures from the test's own
// signer, so the fuzzer starts from requests that verify.
func FuzzHyperAuthorization(f *testing.F) {
	const secret = "fuzz-secret-0001"
	for _, c := range []struct{ method, target, body string }{
		{"GET", "https://crowsnest.example:8443/events/ws", ""},
		{"GET", `https://crowsnest.example/events/ws?filters={"event":["die"]}&since=1h`, ""},
		{"POST", "https://10.0.0.1:443/api/v1/events", `{"tags":["a:b"]}`},
		{"PUT", "https://h/api/v1//stacks/1?x=a%20b&x=c+d", `{"compose":"services: {}"}`},
	} {
		req, err := http.NewRequest(c.method, c.target, strings.NewReader(c.body))
		if err != nil {
			f.Fatal(err)
		}
		testenv.HyperSign(req, "AKFUZZ", secret, "us-west-1", hyperFuzzNow)
		r := hyperServerSide(req)
		f.Add(r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Get("Authorization"),
			r.Header.Get(hyperDateHeader), r.Header.Get(hyperHashHeader), r.Header.Get("Content-Type"), []byte(c.body))
	}
	f.Add("GET", "/", "", "h", "HYPER-HMAC-SHA256 Credential=AKFUZZ/20260314/r/hyper/hyper_request, SignedHeaders=host;x-hyper-date, Signature=",
		"20260314T150926Z", "", "", []byte(nil))
	f.Add("GET", "/", "", "h", "HYPER-HMAC-SHA256 ,,,==", "", "", "", []byte(nil))

	good, other := hyperFuzzAuth(f, secret), hyperFuzzAuth(f, "fuzz-secret-0002")
	f.Fuzz(func(t *testing.T, method, path, rawQuery, host, authz, date, hash, ctype string, body []byte) {
		// Only the verifier's parsing of the header after the scheme is
		// fuzzed through evaluate; a header of another scheme is the
		// bearer path, not this one.
		if !strings.HasPrefix(authz, hyperAlgorithm+" ") {
			authz = hyperAlgorithm + " " + authz
		}
		req := hyperFuzzRequest(method, path, rawQuery, host, authz, date, hash, ctype, body)
		_, o := good.check(req)
		if o.err != nil {
			if o.p != nil {
				t.Fatal("both a principal and an error")
			}
			if o.err.status != http.StatusUnauthorized && o.err.status != http.StatusBadRequest && o.err.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("refused with status %d (%s)", o.err.status, o.err.msg)
			}
			return
		}
		if o.p == nil {
			t.Fatal("a Hyper Authorization header gave neither a principal nor an error")
		}
		// Accepted: it must really be signed, with what must be signed.
		seen, _ := io.ReadAll(req.Body)
		if !bytes.Equal(seen, body) {
			t.Fatalf("the handler would read %q, the client sent %q", seen, body)
		}
		sum := sha256.Sum256(body)
		if !strings.EqualFold(req.Header.Get(hyperHashHeader), hex.EncodeToString(sum[:])) {
			t.Fatalf("accepted with %s %q for a body hashing to %x", hyperHashHeader, req.Header.Get(hyperHashHeader), sum)
		}
		at, err := time.Parse(hyperDateFormat, req.Header.Get(hyperDateHeader))
		if err != nil || at.Sub(hyperFuzzNow).Abs() > hyperMaxSkew {
			t.Fatalf("accepted with %s %q (now %v)", hyperDateHeader, req.Header.Get(hyperDateHeader), hyperFuzzNow)
		}
		h, err := parseHyperAuthz(strings.TrimPrefix(strings.TrimSpace(authz), hyperAlgorithm))
		if err != nil {
			t.Fatalf("accepted a header that does not parse: %v", err)
		}
		names := strings.Split(h.signedHeaders, ";")
		if !slices.Contains(names, "host") || !slices.Contains(names, "x-hyper-date") {
			t.Fatalf("accepted without host and date signed: %q", h.signedHeaders)
		}
		again := hyperFuzzRequest(method, path, rawQuery, host, authz, date, hash, ctype, body)
		if _, o2 := other.check(again); o2.err == nil {
			t.Fatalf("the same request verifies under another secret: the signature is not checked")
		}
	})
}
