package auth

import (
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// Browsers are attackers too: crowsnest open on loopback is open to every
// page the user visits, and to any DNS name an attacker re-points at
// 127.0.0.1 (DNS rebinding). The three guards here hold in every auth mode,
// and none of them affects clients without browser headers (curl, scripts,
// Hyper's client):
//
//   - the Host allowlist (hostGuard) refuses names crowsnest was not told
//     it is reached by, so a rebound name gets 421 and never a page, an
//     answer or a socket;
//   - cross-origin protection (newCrossOrigin, net/http's
//     CrossOriginProtection) refuses state-changing requests that a
//     browser says come from another origin (Sec-Fetch-Site, else Origin);
//   - the content-type rule (RequireContentType) refuses a mutating route's
//     body unless it has the media type the route declares, so nothing a
//     form or a "simple" fetch can send is ever parsed as an API body.

// loopbackNames are the Host names always served on a loopback address.
var loopbackNames = []string{"localhost", "127.0.0.1", "::1"}

// Site is where crowsnest is reached: the listen address, --allowed-host
// and --public-url.
type Site struct {
	Addr         string
	AllowedHosts []string
	PublicURLs   []*url.URL
}

// Protect puts next behind the Host allowlist and cross-origin protection.
func Protect(site Site, log *slog.Logger, next http.Handler) (http.Handler, error) {
	cop, err := newCrossOrigin(site, log)
	if err != nil {
		return nil, err
	}
	return newHostGuard(site, log).wrap(cop.Handler(next)), nil
}

// hostGuard is the Host allowlist.
type hostGuard struct {
	enforce bool            // false: every Host is served (see newHostGuard)
	anyIP   bool            // IP literals are served (a non-loopback address)
	names   map[string]bool // lower case, without port or brackets
	log     *slog.Logger
}

// newHostGuard builds the allowlist of a site. On a loopback address it always
// holds: the loopback names, the listen address's own host, --allowed-host
// and the hosts of --public-url. On any other address it holds only when
// names are configured (then IP literals are served too, since no DNS
// rebinding can produce one); without them such a server answers every
// name it is reached by, as it must for a LAN address nobody listed.
func newHostGuard(cfg Site, log *slog.Logger) *hostGuard {
	g := &hostGuard{names: map[string]bool{}, log: log}
	for _, n := range cfg.AllowedHosts {
		g.names[NormalHost(n)] = true
	}
	for _, u := range cfg.PublicURLs {
		g.names[NormalHost(u.Host)] = true
	}
	if IsLoopback(cfg.Addr) {
		g.enforce = true
		for _, n := range loopbackNames {
			g.names[n] = true
		}
		if h, _, err := net.SplitHostPort(cfg.Addr); err == nil {
			g.names[NormalHost(h)] = true
		}
		return g
	}
	g.enforce, g.anyIP = len(g.names) > 0, true
	return g
}

// NormalHost is host as the allowlist compares it: lower case, without a
// port, brackets or a trailing dot.
func NormalHost(host string) string {
	host = strings.TrimSpace(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
}

// allows reports whether a request for host may be served.
func (g *hostGuard) allows(host string) bool {
	if !g.enforce || host == "" { // no Host at all: HTTP/1.0, never a browser
		return true
	}
	n := NormalHost(host)
	if g.names[n] {
		return true
	}
	_, err := netip.ParseAddr(n)
	return err == nil && g.anyIP
}

// wrap answers 421 Misdirected Request to a Host outside the allowlist.
func (g *hostGuard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.allows(r.Host) {
			w.Header().Set("Connection", "close") // a body, unread, is not waited for
			g.log.Info("request refused", "status", http.StatusMisdirectedRequest, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", "host not allowed", "host", r.Host)
			respond.Error(w, http.StatusMisdirectedRequest, fmt.Sprintf(
				"host %q is not served here: crowsnest answers only localhost, 127.0.0.1, [::1] and the names given with --allowed-host or --public-url (behind a reverse proxy, pass one of them)", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// newCrossOrigin is net/http's cross-origin protection with the origins of
// --public-url trusted (a proxy that rewrites Host makes them differ from
// it). The UI's own origin needs no entry: its requests are same-origin.
func newCrossOrigin(cfg Site, log *slog.Logger) (*http.CrossOriginProtection, error) {
	cop := http.NewCrossOriginProtection()
	for _, u := range cfg.PublicURLs {
		origin := u.Scheme + "://" + u.Host
		if err := cop.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("--public-url %s: %w", u, err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close") // a body, unread, is not waited for
		log.Info("request refused", "status", http.StatusForbidden, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
			"reason", "cross-origin", "origin", r.Header.Get("Origin"), "fetchSite", r.Header.Get("Sec-Fetch-Site"))
		respond.Error(w, http.StatusForbidden, "cross-origin request refused: a page of another origin may not change anything here (list its URL with --public-url if it is crowsnest's own)")
	}))
	return cop, nil
}

// RequireContentType refuses, with 415, a request whose body is not of one
// of the media types in accepts: a missing Content-Type is refused too
// (a browser sends none for a Blob body), except for an empty body, which
// no form or fetch can turn into a command. A nil accepts means the route
// reads no body: then nothing is checked.
func RequireContentType(accepts []string, next http.Handler) http.Handler {
	if accepts == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		if ct == "" && r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		mt, _, err := mime.ParseMediaType(ct)
		for _, a := range accepts {
			if err == nil && mt == a {
				next.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Accept-Post", strings.Join(accepts, ", "))
		respond.Error(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q not accepted here: send %s", ct, strings.Join(accepts, " or ")))
	})
}

// SocketOrigin applies the websocket Origin rule (checkOrigin, the rule
// stream.Socket applies at the upgrade) before a socket's handler does any work,
// so a foreign page gets the same 403 whatever state the handler would
// have found (an unknown container, an unreachable engine).
func (a *Authenticator) SocketOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkOrigin(r, a.origins); err != nil {
			a.log.Info("request refused", "status", http.StatusForbidden, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
			respond.Error(w, http.StatusForbidden, "websocket from another origin refused: "+err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// IsLoopback reports whether addr only listens on the loopback interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
