package testenv

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// tlsClient dials e's proxy trusting its CA, offering cert whatever the
// server asks for (Go's client would otherwise hold back a certificate
// from a CA the server does not name).
func tlsClient(t *testing.T, e TLSEngine, cert *tls.Certificate) (*http.Response, error) {
	t.Helper()
	caPEM, err := os.ReadFile(e.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert == nil {
			return &tls.Certificate{}, nil // none
		}
		return cert, nil
	}}
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer c.CloseIdleConnections()
	return c.Get("https://" + u.Host + "/_ping")
}

func TestTLSProxyVerifiesClients(t *testing.T) {
	e := TLSProxy(t)
	if !strings.HasPrefix(e.URL, "tcp+tls://127.0.0.1:") {
		t.Errorf("URL = %q", e.URL)
	}
	good, err := tls.LoadX509KeyPair(e.Cert, e.Key)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tlsClient(t, e, &good)
	if err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}
	line, _ := bufio.NewReader(res.Body).ReadString('\n')
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || line != "OK" {
		t.Errorf("/_ping through the proxy: %d %q", res.StatusCode, line)
	}

	other, err := tls.LoadX509KeyPair(e.OtherCert, e.OtherKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, cert := range map[string]*tls.Certificate{"no certificate": nil, "another CA's certificate": &other} {
		res, err := tlsClient(t, e, cert)
		if err == nil {
			_ = res.Body.Close()
			t.Errorf("%s: the proxy let the client through", name)
		} else if !strings.Contains(err.Error(), "tls:") {
			t.Errorf("%s: error %v is not a TLS refusal", name, err)
		}
	}
	if q, _ := url.ParseQuery(strings.SplitN(e.HostURL(), "?", 2)[1]); q.Get("ca") != e.CA || q.Get("cert") != e.Cert || q.Get("key") != e.Key {
		t.Errorf("HostURL = %s", e.HostURL())
	}
}
