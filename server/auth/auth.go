// Package auth decides who may use crowsnest's HTTP surface: bearer tokens,
// Hyper.sh HYPER-HMAC-SHA256 signatures and the UI's login sessions
// (auth.go, hyper.go, sessions.go); the Host allowlist, cross-origin
// protection and the content-type rule that hold in every auth mode
// (protect.go); and the per-client limits with the trusted proxies they
// believe (limits.go, proxy.go).
package auth

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"runtime"
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// Scope is what a caller must hold to use a route.
type Scope int

// The scopes, weakest first: a credential holds its own scope and every
// weaker one.
const (
	ScopePublic Scope = iota // anyone, even with auth configured
	ScopeRead                // a read or admin credential
	ScopeAdmin               // an admin credential
)

// String is the scope's name, as credentials and the docs spell it.
func (s Scope) String() string {
	return [...]string{"public", "read", "admin"}[s]
}

// SessionCookie is the cookie the UI's login page sets (HttpOnly): it holds a
// session id (sessions.go), so browsers, which cannot put an Authorization
// header on a websocket upgrade, can still use every socket.
const SessionCookie = "crowsnest_session"

// principal is who a verified credential belongs to. id names the credential
// by where it was configured (never by its secret), so it is safe for logs and
// serves as the per-client identity of the limiter.
type principal struct {
	id    string
	scope Scope
	actor string // the credential's name in audit records (Actor)
}

// tokenCred is one configured bearer token. Only its SHA-256 digest is kept:
// comparing fixed-length digests in constant time hides both the token and
// its length from timing.
type tokenCred struct {
	digest [sha256.Size]byte
	scope  Scope
	id     string
	actor  string // "token-" and the digest's first 8 hex digits
}

// hyperCred is one configured Hyper.sh key pair. The secret itself is needed
// to derive the signing key of each request.
type hyperCred struct {
	secret string
	scope  Scope
	id     string
	actor  string // "hyper-" and the access key
}

// Authenticator checks the credentials of requests: bearer tokens (header or
// session cookie) and Hyper.sh HYPER-HMAC-SHA256 signatures.
type Authenticator struct {
	log     *slog.Logger
	tokens  []tokenCred
	hyper   map[string]hyperCred // by access key, which is not a secret
	origins []string             // --allowed-origin patterns, as coder/websocket reads them
	now     func() time.Time     // the clock signatures and sessions are checked against; tests move it
	// sessions are the UI's login sessions; set once the store is open
	// (nil: every session cookie is invalid).
	sessions store.Sessions
}

// Options are the configured credentials and the --allowed-origin patterns
// (the session cookie's Origin rule is the websockets').
type Options struct {
	Tokens         []string // "read:SECRET" or "admin:SECRET" (--token, CROWSNEST_TOKEN)
	TokenFile      string
	HyperKeys      []string // "ACCESS:SECRET[:scope]"
	HyperKeyFile   string
	AllowedOrigins []string
}

// New reads every configured credential: --token and
// CROWSNEST_TOKEN (both in cfg.Tokens), --token-file, --hyper-key and
// --hyper-key-file. It refuses malformed entries and credential files others
// may read, so a mistake stops the start rather than opening a hole.
func New(cfg Options, log *slog.Logger) (*Authenticator, error) {
	if log == nil {
		log = slog.Default()
	}
	a := &Authenticator{log: log, hyper: map[string]hyperCred{}, now: time.Now}
	for _, p := range cfg.AllowedOrigins {
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			return nil, fmt.Errorf("--allowed-origin %q: %w", p, err)
		}
		a.origins = append(a.origins, p)
	}
	for i, spec := range cfg.Tokens {
		if err := a.addToken(spec, fmt.Sprintf("token:--token#%d", i+1)); err != nil {
			return nil, fmt.Errorf("--token #%d (or CROWSNEST_TOKEN): %w", i+1, err)
		}
	}
	if cfg.TokenFile != "" {
		lines, err := readSecretFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		for _, l := range lines {
			if err := a.addToken(l.text, fmt.Sprintf("token:%s:%d", cfg.TokenFile, l.n)); err != nil {
				return nil, fmt.Errorf("--token-file %s line %d: %w", cfg.TokenFile, l.n, err)
			}
		}
	}
	for i, spec := range cfg.HyperKeys {
		if err := a.addHyperKey(spec); err != nil {
			return nil, fmt.Errorf("--hyper-key #%d: %w", i+1, err)
		}
	}
	if cfg.HyperKeyFile != "" {
		lines, err := readSecretFile(cfg.HyperKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--hyper-key-file: %w", err)
		}
		for _, l := range lines {
			if err := a.addHyperKey(l.text); err != nil {
				return nil, fmt.Errorf("--hyper-key-file %s line %d: %w", cfg.HyperKeyFile, l.n, err)
			}
		}
	}
	if a.Configured() {
		log.Info("auth enabled", "tokens", len(a.tokens), "hyperKeys", len(a.hyper))
	}
	return a, nil
}

// Configured reports whether any credential is configured. A nil
// Authenticator is open.
func (a *Authenticator) Configured() bool {
	return a != nil && (len(a.tokens) > 0 || len(a.hyper) > 0)
}

// parseScope reads the scope part of a credential.
func parseScope(s string) (Scope, error) {
	switch strings.TrimSpace(s) {
	case "read":
		return ScopeRead, nil
	case "admin":
		return ScopeAdmin, nil
	}
	// The value is not echoed: a swapped TOKEN:SCOPE would print the secret.
	return 0, errors.New("scope must be read or admin")
}

// MinSecretLen is the shortest token or Hyper secret key accepted: a
// shorter one falls to guessing, throttle or not.
const MinSecretLen = 16

// checkSecret refuses secrets checkChars refuses and secrets shorter than
// MinSecretLen.
func checkSecret(what, s string) error {
	if err := checkChars(what, s); err != nil {
		return err
	}
	if len(s) < MinSecretLen {
		return fmt.Errorf("%s of %d characters: use at least %d (e.g. openssl rand -hex 16)", what, len(s), MinSecretLen)
	}
	return nil
}

// checkChars refuses values that cannot travel in a header or cookie
// unchanged: such a token would silently never match.
func checkChars(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s", what)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ',' || c == ';' || c == '"' || c == '\\' {
			return fmt.Errorf("%s contains a space, control, non-ASCII or one of , ; \" \\ characters", what)
		}
	}
	return nil
}

// addToken adds one SCOPE:TOKEN entry. The same token twice with one scope is
// harmless (e.g. in the file and the environment); with two scopes it is
// ambiguous and refused.
func (a *Authenticator) addToken(spec, id string) error {
	sc, secret, ok := strings.Cut(strings.TrimSpace(spec), ":")
	if !ok {
		return errors.New("want SCOPE:TOKEN")
	}
	s, err := parseScope(sc)
	if err != nil {
		return err
	}
	if err := checkSecret("token", secret); err != nil {
		return err
	}
	d := sha256.Sum256([]byte(secret))
	for _, t := range a.tokens {
		if t.digest == d {
			if t.scope != s {
				return fmt.Errorf("the same token is already configured with scope %s (%s)", t.scope, t.id)
			}
			return nil
		}
	}
	a.tokens = append(a.tokens, tokenCred{digest: d, scope: s, id: id, actor: "token-" + hex.EncodeToString(d[:4])})
	return nil
}

// addHyperKey adds one ACCESS:SECRET[:SCOPE] entry, read scope by default.
func (a *Authenticator) addHyperKey(spec string) error {
	parts := strings.Split(strings.TrimSpace(spec), ":")
	if len(parts) < 2 || len(parts) > 3 {
		return errors.New("want ACCESS:SECRET or ACCESS:SECRET:SCOPE")
	}
	access, secret, s := parts[0], parts[1], ScopeRead
	if len(parts) == 3 {
		var err error
		if s, err = parseScope(parts[2]); err != nil {
			return err
		}
	}
	if err := checkChars("access key", access); err != nil {
		return err
	}
	if strings.Contains(access, "/") {
		return errors.New("access key contains '/', which the Credential field cannot carry")
	}
	if err := checkSecret("secret key", secret); err != nil {
		return err
	}
	if _, dup := a.hyper[access]; dup {
		return fmt.Errorf("access key %s is configured twice", access)
	}
	a.hyper[access] = hyperCred{secret: secret, scope: s, id: "hyper:" + access, actor: "hyper-" + access}
	return nil
}

// secretLine is one meaningful line of a credential file, with its number for
// error messages (which never quote the line: it holds a secret).
type secretLine struct {
	n    int
	text string
}

// readSecretFile reads a credential file: one entry a line, blank lines and
// lines starting with # ignored (a # elsewhere may be part of a secret). The
// file must not be readable by group or others: secrets in a 0644 file are
// everyone's on the host, so crowsnest refuses to start instead of using them.
func readSecretFile(name string) ([]secretLine, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open credential file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat() // the opened file, so a swap after the check changes nothing
	if err != nil {
		return nil, fmt.Errorf("stat credential file %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("credential file %s is not a regular file", name)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("credential file %s has mode %04o: it must not be readable by group or others (mode 0600 or stricter; run chmod 600 %s)", name, perm, name)
	}
	var lines []secretLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		lines = append(lines, secretLine{n: n, text: t})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read credential file %s: %w", name, err)
	}
	return lines, nil
}

// lookupToken finds the configured token equal to presented. Every entry is
// compared, in constant time, so neither which token matched nor how much of
// it matched shows in the response time.
func (a *Authenticator) lookupToken(presented string) (tokenCred, bool) {
	d := sha256.Sum256([]byte(presented))
	found := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return tokenCred{}, false
	}
	return a.tokens[found], true
}

// authError is why credentials were refused: 401 for missing or wrong ones,
// 403 for a cookie from a foreign page, 413 for a body too big to verify.
// msg goes to the client and the log; it never holds a secret.
type authError struct {
	status int
	msg    string
	bearer bool // a bearer token was presented (RFC 6750 error="invalid_token")
	none   bool // no credential was presented at all
	// closeConn ends the connection after the answer: the body was not
	// read to its end, and what is left of it must not be taken for the
	// next request (nor waited for).
	closeConn bool
	cred      string // id of the configured credential involved, if known
}

// Error implements error.
func (e *authError) Error() string { return e.msg }

// authOutcome is the verdict on a request's credentials: a principal, a
// refusal, or neither (no credential presented).
type authOutcome struct {
	p   *principal
	err *authError
}

// authOutcomeKey keys the verdict in the request context. The limiter, which
// runs first, needs the verified identity; authorize reuses the same verdict,
// so a signature is checked (and a body read) once per request.
type authOutcomeKey struct{}

// check returns the verdict on r's credentials, computing it at most once per
// request, and the request carrying it.
func (a *Authenticator) check(r *http.Request) (*http.Request, authOutcome) {
	if o, ok := r.Context().Value(authOutcomeKey{}).(authOutcome); ok {
		return r, o
	}
	o := a.evaluate(r) // may replace r.Body (Hyper), before the copy below
	return r.WithContext(context.WithValue(r.Context(), authOutcomeKey{}, o)), o
}

// identity is the limiter's view of a request: the id of its credential when
// that credential verified, else "" (the limiter then uses the address). An
// unverified token never becomes an identity, so nobody can spread their
// requests over made-up tokens, or charge them to another's bucket.
func (a *Authenticator) identity(r *http.Request) (*http.Request, string) {
	if !a.Configured() {
		return r, ""
	}
	r, o := a.check(r)
	if o.p == nil {
		return r, ""
	}
	return r, o.p.id
}

// evaluate verifies whatever credential r presents. An Authorization header
// wins over the cookie and, if wrong, is not rescued by it: a client gets the
// answer for what it meant to send.
func (a *Authenticator) evaluate(r *http.Request) authOutcome {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			return a.bearer(strings.TrimSpace(rest))
		case strings.EqualFold(scheme, hyperAlgorithm):
			return a.verifyHyper(r, rest)
		default:
			return authOutcome{err: &authError{status: http.StatusUnauthorized, msg: "unsupported Authorization scheme: use Bearer or " + hyperAlgorithm}}
		}
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return authOutcome{}
	}
	// Checked before the token: a foreign page learns nothing about it.
	if err := checkOrigin(r, a.origins); err != nil {
		return authOutcome{err: &authError{status: http.StatusForbidden, msg: "cross-origin request authenticated only by the session cookie refused: " + err.Error()}}
	}
	t, ok := a.session(r.Context(), c.Value)
	if !ok {
		return authOutcome{err: &authError{status: http.StatusUnauthorized, msg: "invalid or expired session: log in again"}}
	}
	return authOutcome{p: &principal{id: t.id, scope: t.scope, actor: t.actor}}
}

// CallerScope is the scope of r's credential when it verifies (a wrong
// credential is no error here: it is simply no scope). The verdict is the
// one Require reaches, so the UI never offers an action Require would then
// refuse.
func (a *Authenticator) CallerScope(r *http.Request) (Scope, bool) {
	_, o := a.check(r)
	if o.p == nil {
		return 0, false
	}
	return o.p.scope, true
}

// Actor is who r comes from, for audit records: the scope and name of its
// verified credential (a session cookie is the token it was opened with),
// "open" with the admin scope on a server without credentials, and the zero
// Actor for a caller with no valid credential.
func (a *Authenticator) Actor(r *http.Request) wire.Caller {
	if !a.Configured() {
		return wire.Caller{Scope: ScopeAdmin.String(), Credential: "open"}
	}
	_, o := a.check(r)
	if o.p == nil {
		return wire.Caller{}
	}
	return wire.Caller{Scope: o.p.scope.String(), Credential: o.p.actor}
}

// CheckOrigin applies the websockets' Origin rule (checkOrigin) with the
// --allowed-origin patterns: nil when r comes from no browser page, from
// this host's own, or from an allowed one.
func (a *Authenticator) CheckOrigin(r *http.Request) error {
	return checkOrigin(r, a.origins)
}

// bearer verifies a token from the Authorization header.
func (a *Authenticator) bearer(token string) authOutcome {
	t, ok := a.lookupToken(token)
	if !ok {
		return authOutcome{err: &authError{status: http.StatusUnauthorized, msg: "invalid bearer token", bearer: true}}
	}
	return authOutcome{p: &principal{id: t.id, scope: t.scope, actor: t.actor}}
}

// checkOrigin applies coder/websocket's Origin rule (see stream.Socket), so the
// cookie rule and the websocket upgrade agree: no Origin (not a browser, or a
// same-origin GET) is fine; otherwise its host must be the request's Host, or
// match an --allowed-origin pattern (path.Match, case-insensitive, against
// scheme://host when the pattern has a scheme).
func checkOrigin(r *http.Request, patterns []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Errorf("origin %q does not parse: %w", origin, err)
	}
	if strings.EqualFold(r.Host, u.Host) {
		return nil
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return nil
		}
	}
	return fmt.Errorf("origin %q is neither this host nor an --allowed-origin", origin)
}

// Require lets a request through when its credentials hold the scope:
// public routes and servers without credentials are open; otherwise missing
// or wrong credentials get 401 with a WWW-Authenticate challenge, and a
// read credential on an admin route 403.
func (a *Authenticator) Require(need Scope, next http.HandlerFunc) http.Handler {
	if need == ScopePublic || !a.Configured() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, o := a.check(r)
		switch {
		case o.err != nil:
			a.refuse(w, r, o.err)
		case o.p == nil:
			a.refuse(w, r, &authError{status: http.StatusUnauthorized, none: true, msg: "authentication required: send Authorization: Bearer <token> or a " + hyperAlgorithm + " signature"})
		case o.p.scope < need:
			a.refuse(w, r, &authError{status: http.StatusForbidden, msg: fmt.Sprintf("this route needs the %s scope; the credential has %s", need, o.p.scope), cred: o.p.id})
		default:
			next(w, r)
		}
	})
}

// refuse answers e and logs it. Only the credential's id is logged, never
// the header, cookie or signature.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, e *authError) {
	if e.status == http.StatusUnauthorized {
		challenge := `Bearer realm="crowsnest"`
		if e.bearer {
			challenge += `, error="invalid_token"`
		}
		w.Header().Add("WWW-Authenticate", challenge)
		if len(a.hyper) > 0 {
			w.Header().Add("WWW-Authenticate", hyperAlgorithm)
		}
	}
	if e.closeConn {
		w.Header().Set("Connection", "close")
	}
	level := slog.LevelInfo
	if e.none {
		level = slog.LevelDebug // no credential at all: routine, not news
	}
	attrs := []any{"status", e.status, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", e.msg}
	if e.cred != "" {
		attrs = append(attrs, "credential", e.cred)
	}
	a.log.Log(r.Context(), level, "request refused", attrs...)
	respond.Error(w, e.status, e.msg)
}
