package main

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// serverTLS loads --tls-cert and --tls-key at start-up, so a missing or
// mismatched pair stops crowsnest with a clear error instead of failing at
// the first handshake. It returns nil when neither is given (plain HTTP).
// TLS 1.2 is the floor: older versions are broken, and every client in
// scope (browsers, Go's crypto/tls in Hyper's example client) speaks 1.2+.
func serverTLS(cfg Config) (*tls.Config, error) {
	switch {
	case cfg.TLSCert == "" && cfg.TLSKey == "":
		return nil, nil
	case cfg.TLSCert == "":
		return nil, errors.New("--tls-key is set without --tls-cert: give both or neither")
	case cfg.TLSKey == "":
		return nil, errors.New("--tls-cert is set without --tls-key: give both or neither")
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, nil
}
