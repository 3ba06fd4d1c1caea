package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/server/api"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// browserContext is one column of the protection matrix: what a browser (or
// a script, which sends none of it) adds to a request.
type browserContext struct {
	name        string
	origin      string // "" none; "self": the server's own origin
	fetchSite   string // Sec-Fetch-Site
	host        string // "" the server's own address
	contentType string // "" the route's own (matrixBody)
}

// foreign reports whether the column is a page of another origin.
func (b browserContext) foreign() bool {
	return (b.origin != "" && b.origin != "self") || (b.fetchSite != "" && b.fetchSite != "same-origin" && b.fetchSite != "none")
}

// browserContexts are the columns: Origin, Sec-Fetch-Site, Host and
// Content-Type, each varied alone from a same-origin request.
var browserContexts = []browserContext{
	{name: "script (no browser headers)"},
	{name: "same-origin page", origin: "self", fetchSite: "same-origin"},
	{name: "typed into the address bar", fetchSite: "none"},
	{name: "cross-site page", origin: "https://evil.example", fetchSite: "cross-site"},
	{name: "same-site page, other port", origin: "http://127.0.0.1:1", fetchSite: "same-site"},
	{name: "old browser, foreign Origin only", origin: "https://evil.example"},
	{name: "foreign Sec-Fetch-Site only", fetchSite: "cross-site"},
	{name: "null Origin (sandboxed frame)", origin: "null", fetchSite: "cross-site"},
	{name: "Host localhost", host: "localhost"},
	{name: "Host [::1]", host: "[::1]"},
	{name: "rebound Host", host: "rebind.example"},
	{name: "rebound Host, same-origin to the browser", host: "rebind.example", origin: "http://rebind.example", fetchSite: "same-origin"},
	{name: "Content-Type text/plain", contentType: "text/plain"},
	{name: "Content-Type form", contentType: "application/x-www-form-urlencoded"},
	{name: "Content-Type multipart", contentType: "multipart/form-data; boundary=x"},
}

// protectionWant is what a request with column b gets on route rt, with
// authorized telling whether its credential passes the route's scope:
// the Host check first (421), then cross-origin protection (403), then
// auth (401), then the websocket Origin check (403), then the content type
// (415); else the handler runs.
func protectionWant(rt api.Route, b browserContext, authorized bool) (int, string) {
	switch {
	case b.host == "rebind.example":
		return http.StatusMisdirectedRequest, "421"
	case b.foreign() && rt.Origin() == api.OriginSame:
		return http.StatusForbidden, "403"
	case !authorized:
		return http.StatusUnauthorized, "401"
	case rt.Origin() == api.OriginSocket && b.origin != "" && b.origin != "self":
		return http.StatusForbidden, "403"
	case b.contentType != "" && rt.Accepts != nil && !acceptsType(rt.Accepts, b.contentType):
		return http.StatusUnsupportedMediaType, "415"
	}
	return 0, "access"
}

// acceptsType reports whether ctype's media type is in accepts.
func acceptsType(accepts []string, ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	for _, a := range accepts {
		if a == strings.TrimSpace(mt) {
			return true
		}
	}
	return false
}

// TestProtectionMatrix sends every route of the route table every browser
// context (Origin, Sec-Fetch-Site, Host, Content-Type), in each auth mode:
// open on loopback, bearer tokens and Hyper signatures, with an admin
// credential, and, for the modes with auth, without one. A new route is
// covered the day it is added, with the origin rule and content types it
// declares.
func TestProtectionMatrix(t *testing.T) {
	base := []string{"--host", noEngine, "--request-rate", "0", "--max-streams", "0"}
	// The token the matrix's POST /login sends, so the form has an
	// account to log in to in every mode with auth.
	login := []string{"--token", "read:" + matrixRead}
	modes := []struct {
		name string
		args []string
		cred func(req *http.Request) // nil: no credential
		open bool
	}{
		{name: "open", open: true},
		{name: "token, admin", args: append(login, "--token", "admin:"+matrixAdmin), cred: func(req *http.Request) {
			req.Header.Set("Authorization", "Bearer "+matrixAdmin)
		}},
		{name: "token, none", args: append(login, "--token", "admin:"+matrixAdmin)},
		{name: "Hyper, admin", args: append(login, "--hyper-key", "AKMTXADMIN:"+matrixHyperAdmin+":admin"), cred: func(req *http.Request) {
			testenv.HyperSign(req, "AKMTXADMIN", matrixHyperAdmin, "us-west-1", time.Now())
		}},
	}
	cells := 0
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s, _ := startServerLogged(t, append(base, m.args...)...)
			addr := hostPort(t, s.URL)
			port := s.URL[strings.LastIndex(s.URL, ":"):]
			// Every Host column reaches this server, whatever its name.
			client := &http.Client{
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
				Transport: &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				}},
			}
			for i, b := range browserContexts {
				t.Logf("column %d: %s", i+1, b.name)
			}
			for _, rt := range api.Routes() {
				var row []string
				for _, b := range browserContexts {
					c := matrixCred{name: b.name, prepare: func(_ *testing.T, req *http.Request, _ string) {
						switch b.origin {
						case "":
						case "self":
							req.Header.Set("Origin", s.URL)
						default:
							req.Header.Set("Origin", b.origin)
						}
						if b.fetchSite != "" {
							req.Header.Set("Sec-Fetch-Site", b.fetchSite)
						}
						if b.contentType != "" {
							req.Header.Set("Content-Type", b.contentType)
						}
						if b.host != "" {
							req.URL.Host = b.host + port // before signing: Hyper signs the host
							req.Host = req.URL.Host
						}
						if m.cred != nil {
							m.cred(req)
						}
					}}
					authorized := m.open || m.cred != nil || rt.Scope == auth.ScopePublic
					want, wantName := protectionWant(rt, b, authorized)
					got := matrixRequest(t, client, s.URL, rt, c)
					cells++
					row = append(row, fmt.Sprint(got))
					bad := got == 0
					if want == 0 {
						bad = bad || got == http.StatusUnauthorized || got == http.StatusForbidden || got == http.StatusUnsupportedMediaType || got == http.StatusMisdirectedRequest
					} else {
						bad = bad || got != want
					}
					if bad {
						t.Errorf("%s %s (%s, origin %s, accepts %v), %s: status %d, want %s", rt.Method, rt.Path, rt.Scope, rt.Origin(), rt.Accepts, b.name, got, wantName)
					}
				}
				t.Logf("%-6s %-34s %s", rt.Method, rt.Path, strings.Join(row, " "))
			}
		})
	}
	t.Logf("%d requests", cells)
}
