package docker

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestSSHQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  []string
		err   string
	}{
		{query: ""},
		{query: "identity=/etc/cn/id", want: []string{"-i", "/etc/cn/id", "-o", "IdentitiesOnly=yes"}},
		{query: "known-hosts=/etc/cn/kh&strict-host-key-checking=yes", want: []string{"-o", "UserKnownHostsFile=/etc/cn/kh", "-o", "StrictHostKeyChecking=yes"}},
		{query: "strict-host-key-checking=no&known-hosts=/kh", want: []string{"-o", "UserKnownHostsFile=/kh", "-o", "StrictHostKeyChecking=no"}},
		{query: "strict-host-key-checking=accept-new", want: []string{"-o", "StrictHostKeyChecking=accept-new"}},
		{query: "connect-timeout=5", want: []string{"-o", "ConnectTimeout=5"}},
		{query: "connect-timeout=0", err: "whole seconds"},
		{query: "connect-timeout=5s", err: "whole seconds"},
		{query: "strict-host-key-checking=maybe", err: "want yes, no or accept-new"},
		{query: "identity=id_ed25519", err: "absolute"},
		{query: "identity=-oProxyCommand=x", err: "absolute"},
		{query: "identity=/a%20b", err: "not allowed"},
		{query: "identity=/a%25d", err: "not allowed"},
		{query: "known-hosts=/a$HOME", err: "not allowed"},
		{query: "known-hosts=/a%0Ab", err: "not allowed"},
		{query: "options=-oProxyCommand=sh", err: `unknown URL query key "options"`},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sshQuery(q)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("sshQuery(%q) error = %v, want one containing %q", tc.query, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("sshQuery(%q) = %q, %v; want %q", tc.query, got, err, tc.want)
		}
	}
	// The operator's options come first so they win over the defaults.
	args := sshArgs(HostConfig{SSHOptions: []string{"-o", "ServerAliveInterval=60"}})
	if args[1] != "ServerAliveInterval=60" || !slices.Contains(args, "BatchMode=yes") {
		t.Errorf("sshArgs = %q", args)
	}
}

// TestSSHEngine reaches the test engine through a real sshd, beside the
// local engine, and loses it with sshd: events in the outage arrive once
// after sshd is back.
func TestSSHEngine(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	c := testenv.Engine(t)
	testenv.HelperImage(t) // build before the clock starts
	sshd := testenv.SSHD(t)
	h, err := ParseHost("remote=" + sshd.URL())
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(t)
	e := newEngines(t, Options{Journal: col, Hosts: []HostConfig{DefaultHost(), h}})
	start(t, e)
	waitState(t, e, DefaultHostName, wire.HostConnected)
	remote := waitState(t, e, "remote", wire.HostConnected)
	local := waitState(t, e, DefaultHostName, wire.HostConnected)
	if remote.Version == "" || remote.Version != local.Version || remote.APIVersion == "" {
		t.Errorf("remote %+v, local %+v: want the same engine's version", remote, local)
	}
	if strings.Contains(remote.URL, "?") || !strings.HasPrefix(remote.URL, "ssh://") {
		t.Errorf("remote URL %q: want the bare ssh:// address", remote.URL)
	}

	since, oracle := engineWatch(t, c)
	a, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "1"}})
	ev := col.wait(t, "a start through ssh", func(ev wire.ContainerEvent) bool {
		return is(a, "start")(ev) && ev.Host == "remote"
	})
	if ev.Actor.Attributes["image"] == "" {
		t.Errorf("event through ssh without attributes: %+v", ev)
	}
	testenv.WaitExit(t, c, a)
	col.wait(t, "a die through ssh", onHost("remote", is(a, "die")))

	sshd.Kill()
	down := waitState(t, e, "remote", wire.HostUnreachable)
	if !strings.Contains(down.Error, "ssh") {
		t.Errorf("unreachable error %q does not say ssh failed", down.Error)
	}
	// Events while the ssh engine is out of reach; the local engine keeps
	// delivering.
	b, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "2"}})
	long, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "100ms"}})
	testenv.WaitExit(t, c, b)
	testenv.Stop(t, c, long)
	col.wait(t, "b die on the local engine meanwhile", onHost(DefaultHostName, is(b, "die")))
	if hs := e.Hosts(); hs[0].State != wire.HostConnected || hs[1].State != wire.HostUnreachable {
		t.Errorf("during the outage Hosts = %+v", hs)
	}

	sshd.Start()
	waitState(t, e, "remote", wire.HostConnected)
	d, _ := testenv.Run(t, c, testenv.RunOptions{Args: []string{"-exit", "0"}})
	testenv.WaitExit(t, c, d)
	col.wait(t, "d die through ssh after restart", onHost("remote", is(d, "die")))
	until := engineNow(t, c)
	checkEachOnce(t, col, "remote", oracle(until), since, until)

	// An ssh:// DOCKER_HOST works for the default host too (the moby
	// client alone refuses the scheme).
	t.Setenv("DOCKER_HOST", sshd.URL())
	cli, err := newClient(DefaultHost())
	if err != nil {
		t.Fatalf("client for an ssh DOCKER_HOST: %v", err)
	}
	defer func() { _ = cli.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		t.Errorf("ping through an ssh DOCKER_HOST: %v", err)
	}
}

// onHost narrows a matcher to one engine's events.
func onHost(host string, ok func(wire.ContainerEvent) bool) func(wire.ContainerEvent) bool {
	return func(ev wire.ContainerEvent) bool { return ev.Host == host && ok(ev) }
}

// checkEachOnce checks that host delivered every event the engine reports
// in [since, until], and none twice.
func checkEachOnce(t *testing.T, col *collector, host string, want []wire.ContainerEvent, since, until int64) {
	t.Helper()
	if len(want) < 12 {
		t.Fatalf("engine reported only %d events:%s", len(want), describe(want))
	}
	for _, w := range want {
		col.wait(t, fmt.Sprintf("%.12s %s on %s", w.Actor.ID, w.Action, host), func(ev wire.ContainerEvent) bool {
			return ev.Host == host && keyOf(ev) == keyOf(w)
		})
	}
	got := 0
	seen := map[string]int{}
	for _, ev := range col.snapshot() {
		if ev.Host != host {
			continue
		}
		k := fmt.Sprintf("%d/%s/%s", ev.TimeNano, ev.Actor.ID, ev.Action)
		seen[k]++
		if seen[k] == 2 {
			t.Errorf("delivered twice on %s: %.12s %s at %d", host, ev.Actor.ID, ev.Action, ev.TimeNano)
		}
		if ev.TimeNano >= since && ev.TimeNano <= until {
			got++
		}
	}
	if got != len(want) {
		t.Errorf("%s delivered %d events in the window, the engine reports %d:%s", host, got, len(want), describe(want))
	}
}
