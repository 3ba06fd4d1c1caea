package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TLSEngine is a TLSProxy's address and the PEM files a client needs.
type TLSEngine struct {
	// URL is the proxy as a Docker host URL, tcp+tls://127.0.0.1:PORT.
	URL string
	// CA signed the proxy's certificate and the client certificate Cert
	// (with its key Key); the proxy trusts client certificates from it only.
	CA, Cert, Key string
	// OtherCert and OtherKey are a client certificate and key from an
	// unrelated CA, which the proxy refuses: for negative tests.
	OtherCert, OtherKey string
}

// HostURL is URL with the CA and client files as the query options
// docker.ParseHost reads: the --host form.
func (e TLSEngine) HostURL() string {
	q := url.Values{}
	q.Set("ca", e.CA)
	q.Set("cert", e.Cert)
	q.Set("key", e.Key)
	return e.URL + "?" + q.Encode()
}

// TLSProxy starts a TLS listener on 127.0.0.1 that requires a client
// certificate signed by its own CA (generated here, as every certificate
// is) and forwards each accepted connection to the test engine, as a
// Docker engine run with --tlsverify would behave. Without an engine the
// test is skipped (or fails under CI=true), as with Engine. The listener
// is closed when the test ends.
func TLSProxy(tb testing.TB) TLSEngine {
	tb.Helper()
	c := Engine(tb)
	u, err := client.ParseHostURL(c.DaemonHost())
	if err != nil {
		tb.Fatalf("tls proxy: engine address %q: %v", c.DaemonHost(), err)
	}
	dir := tb.TempDir()
	ca, caKey := newCA(tb, "crowsnest test CA")
	other, otherKey := newCA(tb, "unrelated test CA")
	server := issue(tb, ca, caKey, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	e := TLSEngine{
		CA:        writePEM(tb, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw),
		OtherCert: filepath.Join(dir, "other-cert.pem"),
		OtherKey:  filepath.Join(dir, "other-key.pem"),
		Cert:      filepath.Join(dir, "cert.pem"),
		Key:       filepath.Join(dir, "key.pem"),
	}
	writePair(tb, issue(tb, ca, caKey, "crowsnest", x509.ExtKeyUsageClientAuth), e.Cert, e.Key)
	writePair(tb, issue(tb, other, otherKey, "crowsnest", x509.ExtKeyUsageClientAuth), e.OtherCert, e.OtherKey)

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{server},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		tb.Fatalf("tls proxy: listen: %v", err)
	}
	e.URL = "tcp+tls://" + ln.Addr().String()
	p := &tlsProxy{tb: tb, ln: ln, network: u.Scheme, addr: u.Host, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return e
}

// tlsProxy forwards verified TLS connections to the engine.
type tlsProxy struct {
	tb      testing.TB
	ln      net.Listener
	network string // of the engine: "unix" or "tcp"
	addr    string

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func (p *tlsProxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			p.tb.Logf("tls proxy: accept: %v", err)
			return
		}
		p.wg.Add(1)
		go p.forward(down.(*tls.Conn))
	}
}

// forward verifies the client first (the handshake would otherwise run on
// the first read, after the engine was dialled) and then copies bytes both
// ways until either side closes.
func (p *tlsProxy) forward(down *tls.Conn) {
	defer p.wg.Done()
	if !p.track(down) {
		_ = down.Close() // shutting down
		return
	}
	defer p.untrack(down)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := down.HandshakeContext(ctx); err != nil {
		// Expected in the negative tests: the client sees a TLS alert.
		p.tb.Logf("tls proxy: refused a client: %v", err)
		return
	}
	up, err := net.Dial(p.network, p.addr)
	if err != nil {
		p.tb.Logf("tls proxy: dialing the engine: %v", err)
		return
	}
	if !p.track(up) {
		_ = up.Close() // shutting down
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src) // ends when either side closes; nothing to report
		done <- struct{}{}
	}
	go pipe(up, down)
	go pipe(down, up)
	<-done
	// One direction ended: end the other too, so no goroutine outlives
	// the test.
	_ = up.Close()
	_ = down.Close()
	<-done
}

func (p *tlsProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tlsProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = c.Close() // may be closed already
	delete(p.conns, c)
}

// close stops listening, drops every connection and waits for the
// forwarding goroutines.
func (p *tlsProxy) close() {
	if err := p.ln.Close(); err != nil {
		p.tb.Errorf("tls proxy: closing listener: %v", err)
	}
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close() // closing is the point
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// newCA makes a self-signed CA certificate and its key.
func newCA(tb testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour), // clock skew
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("tls proxy: CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("tls proxy: CA certificate: %v", err)
	}
	return cert, key
}

// issue makes a leaf certificate signed by ca, for a server (valid for
// 127.0.0.1 and localhost) or a client, depending on usage.
func issue(tb testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage) tls.Certificate {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatalf("tls proxy: certificate for %s: %v", name, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("tls proxy: key: %v", err)
	}
	return key
}

func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatalf("tls proxy: serial: %v", err)
	}
	return n
}

// writePair writes a leaf certificate and its key as PEM files.
func writePair(tb testing.TB, c tls.Certificate, certPath, keyPath string) {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		tb.Fatalf("tls proxy: key: %v", err)
	}
	writePEM(tb, certPath, "CERTIFICATE", c.Certificate[0])
	writePEM(tb, keyPath, "PRIVATE KEY", der)
}

// writePEM writes one PEM block to path and returns path.
func writePEM(tb testing.TB, path, kind string, der []byte) string {
	tb.Helper()
	writeFile(tb, path, string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})))
	return path
}
