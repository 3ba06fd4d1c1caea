package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/body"
)

// Hyper.sh request signing (HYPER-HMAC-SHA256), as done by Hyper's example
// websocket client linked from spec/hyper-events-ws.md: AWS Signature V4 with
// X-Hyper-* headers, "HYPER" as the key prefix, service "hyper", terminator
// "hyper_request", and Hyper's own canonical path and host. The verifier
// below follows that client byte for byte, because any difference in the
// canonical request makes every signature fail.
const (
	hyperAlgorithm  = "HYPER-HMAC-SHA256"
	hyperDateHeader = "X-Hyper-Date"
	hyperHashHeader = "X-Hyper-Content-Sha256"
	hyperDateFormat = "20060102T150405Z"
	hyperService    = "hyper"
	hyperTerminator = "hyper_request"
	hyperKeyPrefix  = "HYPER"
	hyperMaxSkew    = 5 * time.Minute // Hyper's own request expiry
	// maxSignedBodyLen bounds the body buffered to hash it: the API's own
	// body limit, since no route takes more, so a signature cannot make
	// crowsnest hold more than a handler would (withBodyDeadline bounds
	// the time it may take to arrive).
	maxSignedBodyLen = body.MaxSize
)

// hyperAuthz is a parsed "HYPER-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…" header.
type hyperAuthz struct {
	access        string
	date          string // YYYYMMDD of the credential scope
	region        string
	scope         string // DATE/REGION/hyper/hyper_request, as signed
	signedHeaders string // as sent: it is part of the canonical request
	signature     string
}

// parseHyperAuthz reads the part of the Authorization header after the
// algorithm name.
func parseHyperAuthz(v string) (hyperAuthz, error) {
	var h hyperAuthz
	fields := map[string]string{}
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return h, fmt.Errorf("field %q is not NAME=VALUE", k)
		}
		fields[k] = strings.TrimSpace(val)
	}
	cred, signed, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if cred == "" || signed == "" || sig == "" {
		return h, errors.New("want Credential, SignedHeaders and Signature")
	}
	// ACCESS/DATE/REGION/hyper/hyper_request
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" {
		return h, errors.New("credential is not ACCESS/DATE/REGION/hyper/hyper_request")
	}
	if parts[3] != hyperService || parts[4] != hyperTerminator {
		return h, fmt.Errorf("credential scope ends in %s/%s, want %s/%s", parts[3], parts[4], hyperService, hyperTerminator)
	}
	h.access, h.date, h.region = parts[0], parts[1], parts[2]
	h.scope = strings.Join(parts[1:], "/")
	h.signedHeaders, h.signature = signed, strings.ToLower(sig)
	names := strings.Split(signed, ";")
	// The host and the date must be signed, or a signature could be
	// replayed against another server or forever.
	if !slices.Contains(names, "host") || !slices.Contains(names, "x-hyper-date") {
		return h, errors.New("SignedHeaders must include host and x-hyper-date")
	}
	for _, n := range names {
		if n == "" || n != strings.ToLower(n) {
			return h, fmt.Errorf("signed header name %q is not lower case", n)
		}
	}
	return h, nil
}

// verifyHyper checks a signed request. The cheap checks (header form, known
// access key, date window) come before the body is read, so a stranger
// cannot make crowsnest buffer and hash bodies.
func (a *Authenticator) verifyHyper(r *http.Request, authz string) authOutcome {
	fail := func(status int, format string, args ...any) authOutcome {
		return authOutcome{err: &authError{status: status, msg: fmt.Sprintf(format, args...)}}
	}
	h, err := parseHyperAuthz(authz)
	if err != nil {
		return fail(http.StatusUnauthorized, "malformed %s Authorization header: %v", hyperAlgorithm, err)
	}
	cred, ok := a.hyper[h.access]
	if !ok {
		return fail(http.StatusUnauthorized, "unknown Hyper access key")
	}
	failCred := func(status int, format string, args ...any) authOutcome {
		o := fail(status, format, args...)
		o.err.cred = cred.id
		return o
	}
	dateHeader := r.Header.Get(hyperDateHeader)
	date, err := time.ParseInLocation(hyperDateFormat, dateHeader, time.UTC)
	if err != nil {
		return failCred(http.StatusUnauthorized, "%s header missing or not in %s form", hyperDateHeader, hyperDateFormat)
	}
	now := a.now()
	if skew := now.Sub(date); skew > hyperMaxSkew {
		return failCred(http.StatusUnauthorized, "signature expired: %s is %s old, more than %s", hyperDateHeader, skew.Truncate(time.Second), hyperMaxSkew)
	} else if -skew > hyperMaxSkew {
		return failCred(http.StatusUnauthorized, "signature not yet valid: %s is %s in the future, more than %s (check the clocks)", hyperDateHeader, (-skew).Truncate(time.Second), hyperMaxSkew)
	}
	if h.date != dateHeader[:8] {
		return failCred(http.StatusUnauthorized, "credential date %s is not the day of %s", h.date, hyperDateHeader)
	}
	bodyHash, err := hashBody(r)
	if err != nil {
		var tooBig *authError
		if errors.As(err, &tooBig) {
			tooBig.cred = cred.id
			tooBig.closeConn = true
			return authOutcome{err: tooBig}
		}
		o := failCred(http.StatusBadRequest, "read request body: %v", err)
		o.err.closeConn = true
		return o
	}
	if claimed := r.Header.Get(hyperHashHeader); claimed == "" {
		return failCred(http.StatusUnauthorized, "%s header missing", hyperHashHeader)
	} else if subtle.ConstantTimeCompare([]byte(strings.ToLower(claimed)), []byte(bodyHash)) != 1 {
		return failCred(http.StatusUnauthorized, "%s does not match the request body", hyperHashHeader)
	}
	canonical := hyperCanonicalRequest(r, h.signedHeaders, bodyHash)
	toSign := hyperStringToSign(dateHeader, h.scope, canonical)
	want := hex.EncodeToString(hmacSHA256(hyperSigningKey(cred.secret, h.date, h.region), toSign))
	if subtle.ConstantTimeCompare([]byte(want), []byte(h.signature)) != 1 {
		return failCred(http.StatusUnauthorized, "signature does not match: wrong secret key, or the request was changed after signing")
	}
	return authOutcome{p: &principal{id: cred.id, scope: cred.scope, actor: cred.actor}}
}

// hashBody reads the whole body (bounded), puts an identical reader back for
// the handler, and returns its hex SHA-256.
func hashBody(r *http.Request) (string, error) {
	tooBig := &authError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("signed request body over %d bytes", maxSignedBodyLen)}
	if r.ContentLength > maxSignedBodyLen {
		return "", tooBig
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxSignedBodyLen+1))
		r.Body.Close()
		if err != nil {
			return "", fmt.Errorf("read body: %w", err)
		}
		if len(body) > maxSignedBodyLen {
			return "", tooBig
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}

// hyperCanonicalRequest is Hyper's canonical request: method, path, query,
// the signed headers each as "name:value\n", the signed header names and the
// body hash, joined by newlines.
func hyperCanonicalRequest(r *http.Request, signedHeaders, bodyHash string) string {
	var hdrs strings.Builder
	for _, name := range strings.Split(signedHeaders, ";") {
		var v string
		if name == "host" {
			v = r.Host // Go moves the Host header here
		} else {
			v = r.Header.Get(name)
		}
		v = strings.TrimSpace(v)
		if name == "host" {
			v = hyperHost(v)
		}
		hdrs.WriteString(name + ":" + v + "\n")
	}
	return strings.Join([]string{
		r.Method,
		hyperPath(r.URL.Path),
		hyperQuery(r.URL.RawQuery),
		hdrs.String(),
		signedHeaders,
		bodyHash,
	}, "\n")
}

// hyperHost drops the port from host only when it is 80 or 443, exactly as
// the client does (its check looks at what follows the first colon, so an
// IPv6 literal keeps its form).
func hyperHost(host string) string {
	if !strings.Contains(host, ":") {
		return host
	}
	parts := strings.Split(host, ":")
	if parts[1] == "80" || parts[1] == "443" {
		return parts[0]
	}
	return host
}

// hyperPath is Hyper's canonical path, which differs from AWS's: empty
// segments are dropped (so "//" counts as "/" and there is no leading
// slash), and each segment is percent-encoded except for unreserved
// characters, with upper-case hex.
func hyperPath(p string) string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if isUnreserved(c) {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		segs = append(segs, b.String())
	}
	return strings.Join(segs, "/")
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// hyperQuery is the canonical query: the query as Go's url package parses and
// re-encodes it (keys sorted), with spaces as %20. The client builds it from
// the same parse of the same raw query, which matters because it sends its
// filters JSON unescaped; pairs that do not parse (a ";") are dropped on both
// sides alike.
func hyperQuery(raw string) string {
	v, _ := url.ParseQuery(raw)
	return strings.ReplaceAll(v.Encode(), "+", "%20")
}

// hyperStringToSign is the algorithm, the X-Hyper-Date value, the credential
// scope and the hex SHA-256 of the canonical request, joined by newlines.
func hyperStringToSign(date, scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return strings.Join([]string{hyperAlgorithm, date, scope, hex.EncodeToString(sum[:])}, "\n")
}

// hyperSigningKey derives the per-day, per-region key from the secret:
// HMAC chained over the date, the region, "hyper" and "hyper_request",
// starting from "HYPER"+secret.
func hyperSigningKey(secret, date, region string) []byte {
	k := hmacSHA256([]byte(hyperKeyPrefix+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, hyperService)
	return hmacSHA256(k, hyperTerminator)
}

// hmacSHA256 is HMAC-SHA256 of msg under key.
func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
