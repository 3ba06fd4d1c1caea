package docker

import (
	"slices"
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
		{in: "r=ssh://me@box", name: "r", addr: "ssh://me@box"},
		{in: "r=ssh://me@box:2222/run/docker.sock?identity=/k", name: "r", addr: "ssh://me@box:2222/run/docker.sock"},
		{in: "r=ssh://me:secret@box", err: "passwords"},
		{in: "r=tcp://me:secret@box", err: "passwords"},
		{in: "r=tcp://me@box", err: "only meaningful for ssh"},
		{in: "r=ssh://", err: "no host"},
		{in: "r=ssh://box?port=1", err: `unknown URL query key "port"`},
		{in: "r=ssh://box?identity=/a&identity=/b", err: "given 2 times"},
		{in: "r=ssh://box#frag", err: "fragments"},
		{in: "s=tcp+tls://h?ca=/ca.pem&cert=/c.pem&key=/k.pem", name: "s", addr: "tcp://h:2376", tls: true},
		{in: "s=tcp://h?ca=/ca.pem", name: "s", addr: "tcp://h:2375", tls: true},
		{in: "s=tcp://h?cert=/c.pem", err: "both cert and key"},
		{in: "s=tcp://h?ca=", err: "has no file"},
		{in: "s=tcp://h?identity=/k", err: `unknown URL query key "identity"`},
		{in: "u=unix:///x?ca=/ca.pem", err: "takes no query options"},
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
	// A password never reaches an error message (which may be logged).
	if _, err := ParseHost("r=ssh://me:hunter2@box"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("password URL error = %v", err)
	}
	if _, err := ParseHost("r=tcp://me:hunter2@box:bad"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("malformed password URL error = %v", err)
	}
	// Query options move into the fields; the URL shown by Hosts is bare.
	h, err := ParseHost("s=tcp+tls://h:2376?ca=/ca.pem&cert=/c.pem&key=/k.pem")
	if err != nil || h.URL != "tcp+tls://h:2376" || h.TLSCA != "/ca.pem" || h.TLSCert != "/c.pem" || h.TLSKey != "/k.pem" {
		t.Errorf("TLS query: %+v %v", h, err)
	}
	h, err = ParseHost("r=ssh://root@127.0.0.1:2222?identity=/k&strict-host-key-checking=no")
	want := []string{"-i", "/k", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"}
	if err != nil || h.URL != "ssh://root@127.0.0.1:2222" || !slices.Equal(h.SSHOptions, want) {
		t.Errorf("ssh query: %+v %v, want options %q", h, err, want)
	}
	if again, err := h.resolve(); err != nil || !slices.Equal(again.SSHOptions, want) || again.URL != h.URL {
		t.Errorf("resolving twice: %+v %v", again, err)
	}
	// TLS files turn TLS on for plain tcp://.
	h = HostConfig{Name: "t", URL: "tcp://h:2376", TLSCA: "ca.pem"}
	if _, useTLS, _ := h.endpoint(); !useTLS {
		t.Error("tcp:// with a CA file does not use TLS")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	sink := &collector{}
	for name, opts := range map[string]Options{
		"no journal": {},
		"duplicate":  {Journal: sink, Hosts: []HostConfig{{Name: "a"}, {Name: "a"}}},
		"bad url":    {Journal: sink, Hosts: []HostConfig{{Name: "a", URL: "ftp://x"}}},
		"ssh + tls":  {Journal: sink, Hosts: []HostConfig{{Name: "a", URL: "ssh://x", TLSCA: "/ca.pem"}}},
		"tcp + ssh":  {Journal: sink, Hosts: []HostConfig{{Name: "a", URL: "tcp://x", SSHOptions: []string{"-v"}}}},
		"bad query":  {Journal: sink, Hosts: []HostConfig{{Name: "a", URL: "ssh://x?proxy-command=sh"}}},
		"bad tls":    {Journal: sink, Hosts: []HostConfig{{Name: "a", URL: "tcp+tls://h", TLSCA: "/nonexistent/ca.pem"}}},
		"backoff":    {Journal: sink, MinBackoff: 2, MaxBackoff: 1},
		"empty name": {Journal: sink, Hosts: []HostConfig{{URL: "unix:///x"}}},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: New accepted %+v", name, opts)
		}
	}
	e, err := New(Options{Journal: sink})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	hs := e.Hosts()
	if len(hs) != 1 || hs[0].Name != DefaultHostName || hs[0].State != "connecting" || hs[0].URL == "" {
		t.Errorf("default hosts = %+v", hs)
	}
}
