package docker

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHost(t *testing.T) {
	for _, tc := range []struct {
		in, name, addr string
		tls            bool
		err            string
	}{
		{in: "local=unix:///var/run/docker.sock", name: "local", addr: "unix:///var/run/docker.sock"},
		{in: "b=tcp://10.0.0.2", name: "b", addr: "tcp://10.0.0.2:2375"},
		{in: "b=tcp://10.0.0.2:4243", name: "b", addr: "tcp://10.0.0.2:4243"},
		{in: "s=tcp+tls://docker.example:2376", name: "s", addr: "tcp://docker.example:2376", tls: true},
		{in: "s=https://docker.example", name: "s", addr: "tcp://docker.example:2376", tls: true},
		{in: "r=ssh://me@box", err: ErrSSHUnsupported.Error()},
		{in: "novalue", err: "want NAME=URL"},
		{in: "=unix:///x", err: "host name"},
		{in: "bad name=unix:///x", err: "host name"},
		{in: "x=ftp://h", err: "unsupported scheme"},
		{in: "x=unix://", err: "no socket path"},
		{in: "x=tcp://", err: "no host"},
	} {
		h, err := ParseHost(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseHost(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHost(%q): %v", tc.in, err)
			continue
		}
		addr, useTLS, err := h.endpoint()
		if h.Name != tc.name || addr != tc.addr || useTLS != tc.tls || err != nil {
			t.Errorf("ParseHost(%q) = %s %s tls=%v err=%v, want %s %s tls=%v", tc.in, h.Name, addr, useTLS, err, tc.name, tc.addr, tc.tls)
		}
	}
	if _, err := ParseHost("r=ssh://me@box"); !errors.Is(err, ErrSSHUnsupported) {
		t.Errorf("ssh error %v is not ErrSSHUnsupported", err)
	}
	// TLS files turn TLS on for plain tcp://.
	h := HostConfig{Name: "t", URL: "tcp://h:2376", TLSCA: "ca.pem"}
	if _, useTLS, _ := h.endpoint(); !useTLS {
		t.Error("tcp:// with a CA file does not use TLS")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	sink := (&collector{}).sink
	for name, opts := range map[string]Options{
		"no sink":    {},
		"duplicate":  {Sink: sink, Hosts: []HostConfig{{Name: "a"}, {Name: "a"}}},
		"bad url":    {Sink: sink, Hosts: []HostConfig{{Name: "a", URL: "ssh://x"}}},
		"bad tls":    {Sink: sink, Hosts: []HostConfig{{Name: "a", URL: "tcp+tls://h", TLSCA: "/nonexistent/ca.pem"}}},
		"backoff":    {Sink: sink, MinBackoff: 2, MaxBackoff: 1},
		"empty name": {Sink: sink, Hosts: []HostConfig{{URL: "unix:///x"}}},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: New accepted %+v", name, opts)
		}
	}
	e, err := New(Options{Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	hs := e.Hosts()
	if len(hs) != 1 || hs[0].Name != DefaultHostName || hs[0].State != "connecting" || hs[0].URL == "" {
		t.Errorf("default hosts = %+v", hs)
	}
}
