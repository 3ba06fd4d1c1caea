package docker

import (
	"strings"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestTLSEngine reaches the test engine through a TLS listener that
// verifies client certificates: the right certificate, given in the --host
// form, streams events; none, or one from another CA, leaves the host
// unreachable with the TLS reason.
func TestTLSEngine(t *testing.T) {
	c := testenv.Engine(t)
	tlsEngine := testenv.TLSProxy(t)
	good, err := ParseHost("secure=" + tlsEngine.HostURL())
	if err != nil {
		t.Fatal(err)
	}
	noCert := HostConfig{Name: "nocert", URL: tlsEngine.URL, TLSCA: tlsEngine.CA}
	otherCA := HostConfig{Name: "otherca", URL: tlsEngine.URL, TLSCA: tlsEngine.CA, TLSCert: tlsEngine.OtherCert, TLSKey: tlsEngine.OtherKey}
	// A client that does not trust the proxy's CA refuses it in turn.
	untrusted := HostConfig{Name: "untrusted", URL: tlsEngine.URL, TLSCert: tlsEngine.Cert, TLSKey: tlsEngine.Key}
	col := newCollector(t)
	e := newEngines(t, Options{Journal: col, Hosts: []HostConfig{good, noCert, otherCA, untrusted}})
	start(t, e)

	h := waitState(t, e, "secure", wire.HostConnected)
	if h.Version == "" || h.URL != tlsEngine.URL {
		t.Errorf("secure host = %+v, want a version and URL %s", h, tlsEngine.URL)
	}
	id, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "0"}})
	col.wait(t, "start through TLS", onHost("secure", is(id, "start")))
	col.wait(t, "die through TLS", onHost("secure", is(id, "die")))

	for name, want := range map[string]string{
		// TLS 1.3 clients learn of the refusal from the server's alert.
		"nocert": "certificate required",
		// Go's client offers only a certificate from a CA the server
		// names, so a foreign one is never sent (testenv checks that the
		// proxy refuses one sent anyway).
		"otherca":   "certificate required",
		"untrusted": "certificate signed by unknown authority",
	} {
		h := waitState(t, e, name, wire.HostUnreachable)
		if !strings.Contains(h.Error, want) {
			t.Errorf("%s: error %q does not say %q", name, h.Error, want)
		}
	}
	for _, ev := range col.snapshot() {
		if ev.Host != "secure" {
			t.Errorf("event from refused host %s: %.12s %s", ev.Host, ev.Actor.ID, ev.Action)
		}
	}
}
