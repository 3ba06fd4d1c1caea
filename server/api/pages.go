package api

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/crowsnest-hq/crowsnest/server/auth"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// Limits and lifetimes of the server-rendered pages.
const (
	// loginFormLimit bounds the body of POST /login and /logout: a token
	// and a path fit easily; anything bigger is not a login.
	loginFormLimit = 8 << 10
	// tokenVar is the shell variable the /api examples read the token from.
	tokenVar = "$CROWSNEST_TOKEN"
)

// pageCSP is the Content-Security-Policy of the server-rendered pages: no
// script at all (they need none, so an injection could run nothing), the
// inline style, forms only to this origin, never framed.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pageCSS is the inline style of the server-rendered pages. It is inline
// rather than a file so the pages stand alone (one request, no dependency
// on the UI's assets) and follow the system's light or dark theme.
const pageCSS = `
:root{--bg:#f7f8fa;--fg:#1d2330;--muted:#5b6475;--card:#fff;--line:#dfe3ea;--accent:#1f6feb;--code:#eef1f5;
--get:#1a7f37;--post:#9a6700;--put:#8250df;--delete:#cf222e;--err:#b42318;--errbg:#fde8e7;--okbg:#e6f4ea;
color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0f1217;--fg:#e3e7ee;--muted:#9aa4b4;--card:#171b22;--line:#2a303b;
--accent:#58a6ff;--code:#1f242d;--get:#3fb950;--post:#d29922;--put:#a371f7;--delete:#f85149;--err:#ffa198;--errbg:#3b1618;--okbg:#13291b}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
code,pre{font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--code);padding:.1em .35em;border-radius:4px}
.top{display:flex;align-items:center;gap:1.5rem;flex-wrap:wrap;padding:.75rem 1.25rem;background:var(--card);border-bottom:1px solid var(--line)}
.brand{font-weight:700;font-size:1.1rem;color:var(--fg);text-decoration:none;letter-spacing:.02em}
.top nav{display:flex;gap:1rem}
.top nav a{color:var(--muted);text-decoration:none;padding:.25rem 0;border-bottom:2px solid transparent}
.top nav a:hover{color:var(--fg)}
.top nav a[aria-current=page]{color:var(--fg);border-bottom-color:var(--accent)}
main{max-width:64rem;margin:0 auto;padding:1.5rem 1.25rem 4rem}
h1{font-size:1.6rem;margin:.5rem 0 .75rem}
h2{font-size:1.2rem;margin:2rem 0 .75rem;padding-bottom:.35rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:0 0 .5rem;display:flex;flex-wrap:wrap;align-items:center;gap:.5rem}
.lead{color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);border-radius:8px}
th,td{text-align:left;padding:.45rem .7rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
tr:last-child td{border-bottom:0}
td .path{text-decoration:none}
.method{display:inline-block;min-width:4.2em;text-align:center;font:600 12px/1.7 ui-monospace,monospace;border-radius:4px;padding:0 .4em;color:#fff;background:var(--muted)}
.method-GET{background:var(--get)}.method-POST{background:var(--post)}.method-PUT{background:var(--put)}.method-DELETE{background:var(--delete)}
@media (prefers-color-scheme:dark){.method{color:#0f1217}}
.scope,.badge{display:inline-block;font-size:12px;line-height:1.6;border-radius:999px;padding:0 .6em;border:1px solid var(--line);color:var(--muted)}
.scope-admin{color:var(--delete);border-color:currentColor}.scope-read{color:var(--accent);border-color:currentColor}
.scopes{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
.scopes dd{margin:0;color:var(--muted)}
.route{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem 1.1rem;margin:1rem 0;scroll-margin-top:1rem}
.route:target{border-color:var(--accent);box-shadow:0 0 0 1px var(--accent)}
.route p{margin:.35rem 0}
.params{color:var(--muted)}
.label{font-weight:600;color:var(--fg);margin-right:.4rem}
pre.example{background:var(--code);border-radius:6px;padding:.6rem .8rem;margin:.6rem 0 0;overflow-x:auto}
pre.example code{background:none;padding:0;white-space:pre}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1.5rem}
.login{max-width:26rem;margin:3rem auto}
.login label{display:block;font-weight:600;margin:1rem 0 .35rem}
.login input{width:100%;font:inherit;padding:.55rem .7rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
.login input[aria-invalid=true]{border-color:var(--err)}
button,.button{display:inline-block;margin-top:1rem;font:inherit;font-weight:600;padding:.55rem 1.1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-decoration:none}
button.secondary{background:transparent;color:var(--accent);margin-top:0}
@media (prefers-color-scheme:dark){button:not(.secondary),.button{color:#0f1217}}
p code,dd code{white-space:nowrap}
hr{border:0;border-top:1px solid var(--line);margin:1.25rem 0}
.error{color:var(--err);background:var(--errbg);border-radius:6px;padding:.5rem .75rem}
.note{background:var(--okbg);border-radius:6px;padding:.5rem .75rem}
.hint{color:var(--muted);font-size:.85rem;margin-bottom:0}
@media (max-width:40rem){main{padding:1rem .75rem 3rem}.top{gap:.75rem}th:nth-child(4),td:nth-child(4){display:none}}
`

// apiPageData is what the /api template shows.
type apiPageData struct {
	AuthConfigured bool
	Cookie         string // the session cookie's name
	Routes         []apiRoute
}

// apiRoute is one route as the /api page shows it: the route table's entry
// with its example expanded for the server answering the request.
type apiRoute struct {
	Method, Path, Scope string
	Stream              bool
	Summary             string
	Short               string // Summary up to its first ';' or '(': the index column
	Params              string
	Example             string
	Anchor              string // the section's id, e.g. "get-api-v1-events"
}

// handleAPIPage serves the API reference, generated from s.routes() on
// every request so it can never disagree with what the server routes.
func (s *Server) handleAPIPage(w http.ResponseWriter, r *http.Request) {
	d := apiPageData{AuthConfigured: s.auth.Configured(), Cookie: auth.SessionCookie}
	base, ws := baseURLs(r, s.proxies)
	for _, rt := range sortedRoutes(s.routes()) {
		doc := rt.Doc()
		d.Routes = append(d.Routes, apiRoute{
			Method:  rt.Method,
			Path:    rt.Path,
			Scope:   rt.Scope.String(),
			Stream:  rt.Stream,
			Summary: doc.Summary,
			Short:   shortSummary(doc.Summary),
			Params:  doc.Params,
			Example: expandExample(routeExample(rt), base, ws, d.AuthConfigured && rt.Scope != auth.ScopePublic),
			Anchor:  routeAnchor(rt),
		})
	}
	s.renderPage(w, r, http.StatusOK, apiPage(d))
}

// sortedRoutes orders routes by path, then by method (GET, POST, PUT,
// DELETE), so a resource's routes sit together whatever order the table
// was written in.
func sortedRoutes(in []Route) []Route {
	out := append([]Route(nil), in...)
	rank := map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return rank[out[i].Method] < rank[out[j].Method]
	})
	return out
}

// shortSummary is the head of a summary, for the index table: long
// summaries go on after a ';' or a parenthesis.
func shortSummary(s string) string {
	if i := strings.IndexAny(s, ";("); i > 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// routeAnchor is the id of a route's section: method and path in lower
// case, every run of other characters one '-'.
func routeAnchor(rt Route) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(rt.Method + " " + rt.Path) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// routeExample is the route's documented Example, or one derived from its
// method and path when routeDocs has none, so every route shows a usable
// command.
func routeExample(rt Route) string {
	if ex := rt.Doc().Example; ex != "" {
		return ex
	}
	switch {
	case rt.Stream && rt.Method == http.MethodGet && !strings.HasSuffix(rt.Path, "/stream"):
		return "websocat '{ws}" + rt.Path + "'"
	case rt.Stream:
		return "curl -N '{base}" + rt.Path + "'"
	case rt.Method == http.MethodGet:
		return "curl '{base}" + rt.Path + "'"
	default:
		return "curl -X " + rt.Method + " '{base}" + rt.Path + "'"
	}
}

// expandExample fills in the server's URLs and, when the route needs a
// credential, the Authorization header after the command's name.
func expandExample(ex, base, ws string, withAuth bool) string {
	ex = strings.NewReplacer("{base}", base, "{ws}", ws).Replace(ex)
	if withAuth {
		if cmd, rest, ok := strings.Cut(ex, " "); ok && (cmd == "curl" || cmd == "websocat") {
			ex = cmd + ` -H "Authorization: Bearer ` + tokenVar + `" ` + rest
		}
	}
	return ex
}

// baseURLs are the http(s) and ws(s) URLs the client reached the server at,
// for examples it can paste. The Host header is the client's own word,
// which is fine here: it only goes back to that client, escaped.
func baseURLs(r *http.Request, proxies auth.TrustedProxies) (base, ws string) {
	if proxies.IsTLS(r) {
		return "https://" + r.Host, "wss://" + r.Host
	}
	return "http://" + r.Host, "ws://" + r.Host
}

// loginPageData is what the /login template shows.
type loginPageData struct {
	AuthConfigured bool
	Scope          string // the scope of a valid session the request carries, else ""
	Error          string // why the last attempt failed
	Next           string // where to go after logging in
}

// handleLoginPage shows the login form, or says that no auth is configured.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	d := loginPageData{AuthConfigured: s.auth.Configured(), Next: safeNext(r.URL.Query().Get("next"))}
	d.Scope = s.sessionScope(r)
	s.renderPage(w, r, http.StatusOK, loginPage(d))
}

// sessionScope is the scope of the request's session cookie when it names
// a live session, else "".
func (s *Server) sessionScope(r *http.Request) string {
	if !s.auth.Configured() {
		return ""
	}
	c, err := r.Cookie(auth.SessionCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	sc, ok := s.auth.SessionScope(r.Context(), c.Value)
	if !ok {
		return ""
	}
	return sc.String()
}

// handleLogin checks the posted token and, when it is a configured one,
// opens a session, puts its id in the session cookie and sends the browser on (303, so the
// reload of the next page is a GET). A wrong token gets the form again
// with 401 and nothing set.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	d := loginPageData{AuthConfigured: s.auth.Configured()}
	if err := s.parsePageForm(w, r); err != nil {
		d.Error = err.msg
		s.renderPage(w, r, err.status, loginPage(d))
		return
	}
	d.Next = safeNext(r.PostFormValue("next"))
	if !d.AuthConfigured {
		// Nothing to log in to: every route is open anyway.
		http.Redirect(w, r, d.Next, http.StatusSeeOther)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		d.Error = "Enter a token."
		s.renderPage(w, r, http.StatusUnauthorized, loginPage(d))
		return
	}
	if wait := s.logins.Wait(r); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		s.metrics.loginFailures.WithLabelValues("throttled").Inc()
		s.log.Warn("login refused", "remote", r.RemoteAddr, "reason", "throttled after failed logins", "retryAfterSeconds", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		d.Error = "Too many failed logins: try again in " + strconv.Itoa(secs) + " s."
		s.renderPage(w, r, http.StatusTooManyRequests, loginPage(d))
		return
	}
	sess, err := s.auth.Login(r.Context(), token)
	if errors.Is(err, auth.ErrUnknownToken) {
		client, n := s.logins.Failed(r)
		s.metrics.loginFailures.WithLabelValues("wrong-token").Inc()
		s.log.Warn("login refused", "remote", r.RemoteAddr, "client", client, "reason", "unknown token", "failures", n)
		d.Error = "That token is not valid."
		s.renderPage(w, r, http.StatusUnauthorized, loginPage(d))
		return
	}
	if err != nil {
		s.log.Error("login failed", "remote", r.RemoteAddr, "err", err)
		d.Error = "The session could not be stored; see the server's log."
		s.renderPage(w, r, http.StatusInternalServerError, loginPage(d))
		return
	}
	s.logins.Succeeded(r)
	http.SetCookie(w, s.sessionCookie(r, sess.ID, int(auth.SessionMaxAge/time.Second)))
	s.log.Info("login", "credential", sess.Credential, "scope", sess.Scope.String(), "remote", r.RemoteAddr)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// handleLogout ends the session, clears its cookie and goes back to the
// login page.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.parsePageForm(w, r); err != nil {
		d := loginPageData{AuthConfigured: s.auth.Configured(), Error: err.msg}
		s.renderPage(w, r, err.status, loginPage(d))
		return
	}
	if c, err := r.Cookie(auth.SessionCookie); err == nil {
		if err := s.auth.Logout(r.Context(), c.Value); err != nil {
			s.log.Error("logout failed", "remote", r.RemoteAddr, "err", err)
			d := loginPageData{AuthConfigured: s.auth.Configured(), Error: "The session could not be ended; see the server's log."}
			s.renderPage(w, r, http.StatusInternalServerError, loginPage(d))
			return
		}
	}
	http.SetCookie(w, s.sessionCookie(r, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// sessionCookie is the session cookie carrying value; maxAge -1 deletes it.
// HttpOnly keeps the session id from scripts, SameSite=Strict from requests other
// sites start, and Secure from plain-text connections when served over TLS.
func (s *Server) sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     auth.SessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.proxies.IsTLS(r),
		SameSite: http.SameSiteStrictMode,
	}
}

// pageFormError is why a posted page form was refused, for the page to show.
type pageFormError struct {
	status int
	msg    string
}

// parsePageForm reads a small urlencoded form, refusing posts from other
// origins: SameSite keeps the cookie from foreign pages, but a foreign page
// could still log a user in with its own token or out, so the Origin rule
// of the websockets (auth.CheckOrigin) applies here too.
func (s *Server) parsePageForm(w http.ResponseWriter, r *http.Request) *pageFormError {
	if err := s.auth.CheckOrigin(r); err != nil {
		s.log.Info("page form refused", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
		return &pageFormError{http.StatusForbidden, "This form was posted from another site: " + err.Error()}
	}
	r.Body = http.MaxBytesReader(w, r.Body, loginFormLimit)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &pageFormError{http.StatusRequestEntityTooLarge, "The form is too large."}
		}
		return &pageFormError{http.StatusBadRequest, "The form could not be read: " + err.Error()}
	}
	return nil
}

// safeNext is where to send the browser after logging in: a path on this
// server, else "/". Anything that a browser could read as another host
// ("//evil", "/\evil", "https://…") is refused, so the login page cannot be
// turned into an open redirect.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// renderPage writes a server-rendered page with status. It renders into a
// buffer first so a template error becomes a clean 500, not half a page;
// pages are never cached (they depend on the session) nor framed.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Error("render page", "path", r.URL.Path, "err", err)
		}
		respond.Error(w, http.StatusInternalServerError, "render page: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.log.Debug("write page", "path", r.URL.Path, "err", err)
	}
}

// ariaCurrent marks the navigation link of the page being shown.
func ariaCurrent(current bool) string {
	if current {
		return "page"
	}
	return "false"
}
