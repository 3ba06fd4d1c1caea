package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/server/auth"
	"github.com/crowsnest-hq/crowsnest/server/stream"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// into dir, as an operator would hand them to --tls-cert and --tls-key.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "crowsnest test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestServerTLSFlags: --tls-cert/--tls-key are both or neither, must load, and TLS 1.2 is the floor.
func TestServerTLSFlags(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	if c, err := serverTLS(Config{}); c != nil || err != nil {
		t.Fatalf("neither flag: %v %v", c, err)
	}
	c, err := serverTLS(Config{TLSCert: cert, TLSKey: key})
	if err != nil || c.MinVersion != tls.VersionTLS12 || len(c.Certificates) != 1 {
		t.Fatalf("both flags: %+v %v", c, err)
	}
	other, _ := writeTestCert(t, t.TempDir())
	for name, cfg := range map[string]Config{
		"--tls-cert without --tls-key": {TLSCert: cert},
		"--tls-key without --tls-cert": {TLSKey: key},
		"missing file":                 {TLSCert: filepath.Join(dir, "nope.pem"), TLSKey: key},
		"key of another cert":          {TLSCert: other, TLSKey: key},
		"key given as cert":            {TLSCert: key, TLSKey: key},
	} {
		if _, err := serverTLS(cfg); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "--tls") && !strings.Contains(err.Error(), "TLS") {
			t.Errorf("%s: unclear error %q", name, err)
		}
	}
}

// TestHyperClientOverWSS plays Hyper's example client against crowsnest's
// auth, limits and websocket stack served with --tls-cert/--tls-key: the
// client signs the upgrade GET (raw JSON filters in the query), dials wss://
// skipping certificate verification as it does, and reads the stream.
func TestHyperClientOverWSS(t *testing.T) {
	cert, key := writeTestCert(t, t.TempDir())
	tlsCfg, err := serverTLS(Config{TLSCert: cert, TLSKey: key})
	if err != nil {
		t.Fatal(err)
	}
	const testHyperSecret = "hyper-secret-5f4dcc3b5aa765d6"
	log := slog.New(slog.DiscardHandler)
	a, err := auth.New(auth.Options{HyperKeys: []string{"AKWS:" + testHyperSecret}}, log)
	if err != nil {
		t.Fatal(err)
	}
	limits := auth.NewLimiter(auth.Limits{MaxStreams: 1}, a)
	streams := &stream.Server{
		Log:     log,
		Clients: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "clients"}, []string{"endpoint"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dropped"}, []string{"endpoint"}),
	}
	frame := `{"status":"start","id":"f29698cac3f6","from":"busybox","Type":"container","Action":"start"}`
	gotFilters := make(chan string, 1)
	h := limits.Wrap(true, a.Require(auth.ScopeRead, func(w http.ResponseWriter, r *http.Request) {
		gotFilters <- r.URL.Query().Get("filters")
		live := hub.New[[]byte]().Subscribe(1) // never publishes: the socket stays open
		defer live.Close()
		stream.Socket(streams, w, r, stream.Spec[[]byte]{
			Endpoint: "test",
			Source:   live,
			Start:    func(_ context.Context, send func([]byte) error) error { return send([]byte(frame)) },
		})
	}))
	ts := httptest.NewUnstartedServer(h)
	ts.TLS = tlsCfg
	ts.StartTLS()
	defer ts.Close()

	addr := strings.TrimPrefix(ts.URL, "https://")
	filters := `{"event":{"start":true},"label":{"sh_hyper_instancetype=s4":true}}`
	dial := func(secret string) (*websocket.Conn, *http.Response, error) {
		u := "wss://" + addr + "/events/ws?filters=" + filters // unescaped, like the client
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		testenv.HyperSign(req, "AKWS", secret, "us-west-1", time.Now())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return websocket.Dial(ctx, u, &websocket.DialOptions{
			HTTPHeader: req.Header,
			HTTPClient: &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // as the client does
			}},
		})
	}

	conn, _, err := dial(testHyperSecret)
	if err != nil {
		t.Fatalf("signed wss dial: %v", err)
	}
	defer conn.CloseNow()
	if got := <-gotFilters; got != filters {
		t.Fatalf("handler saw filters %q, want %q", got, filters)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, msg, err := conn.Read(ctx)
	if err != nil || typ != websocket.MessageText || string(msg) != frame {
		t.Fatalf("read %v %q %v", typ, msg, err)
	}

	// The same key pair again: its one stream is taken.
	if _, resp, err := dial(testHyperSecret); err == nil || resp == nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("second stream: err %v resp %+v", err, resp)
	}
	// A wrong secret: 401 before any upgrade.
	if _, resp, err := dial("wrong"); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("wrong secret: err %v resp %+v", err, resp)
	}
	conn.Close(websocket.StatusNormalClosure, "")

	// TLS below 1.2 is refused at the handshake.
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}
