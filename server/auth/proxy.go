package auth

import (
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the peers (--trusted-proxy) whose X-Forwarded-For and
// X-Forwarded-Proto crowsnest believes. From any other peer those headers
// are the client's own word and are ignored: believing them would let a
// client choose its rate-limit bucket, or make the session cookie drop
// Secure.
type TrustedProxies []netip.Prefix

// trusts reports whether addr, a peer address with or without a port, is
// one of the proxies.
func (p TrustedProxies) trusts(addr string) bool {
	a, ok := parseAddr(addr)
	if !ok {
		return false
	}
	a = a.Unmap()
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address of the client behind the proxies: with the
// peer a trusted proxy, the last X-Forwarded-For entry that is not itself
// a trusted proxy (entries further left were written by the client or by
// proxies nobody vouches for); else the peer.
func (p TrustedProxies) clientAddr(r *http.Request) (netip.Addr, bool) {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok || !p.trusts(r.RemoteAddr) {
		return peer, ok
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseAddr(strings.TrimSpace(hops[i]))
		if !ok {
			break // garbage: nothing left of it can be trusted
		}
		if !p.trusts(a.String()) {
			return a, true
		}
	}
	return peer, true
}

// IsTLS reports whether the client's connection is TLS: served by crowsnest
// over TLS, or, from a trusted proxy, one that says so.
func (p TrustedProxies) IsTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return p.trusts(r.RemoteAddr) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
