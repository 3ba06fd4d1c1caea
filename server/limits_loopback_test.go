package main

import (
	"net"
	"net/http"
	"testing"
)

// TestLoopbackIsOneClient: one local process that binds a new 127.x source
// address for every request still gets one burst, not one per address.
func TestLoopbackIsOneClient(t *testing.T) {
	srv := startServer(t, "--request-rate", "0.01", "--request-burst", "5")
	limited := 0
	for i := range 20 {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i+1))}
		c := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: src}).DialContext}}
		resp, err := c.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.CloseIdleConnections()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	// One bucket of 5, startServer's /healthz polls included: at most 5 pass.
	if limited < 15 {
		t.Fatalf("%d of 20 requests from 20 loopback addresses were limited, want at least 15 (burst 5)", limited)
	}
}
