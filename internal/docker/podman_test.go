package docker

import (
	"context"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestEngineKind(t *testing.T) {
	docker := client.ServerVersionResult{Version: "20.10.24", Components: []system.ComponentVersion{{Name: "Engine"}}}
	podman := client.ServerVersionResult{Version: "4.3.1", Components: []system.ComponentVersion{{Name: "Conmon"}, {Name: "Podman Engine"}}}
	if k := engineKind(docker); k != wire.EngineDocker {
		t.Errorf("Docker's /version: %q", k)
	}
	if k := engineKind(podman); k != wire.EnginePodman {
		t.Errorf("Podman's /version: %q", k)
	}
}

func TestPodmanEventInDockerWords(t *testing.T) {
	for _, tc := range []struct {
		action string
		attrs  map[string]string
		want   string
		kept   map[string]string
	}{
		{"remove", map[string]string{"containerExitCode": "0", "podId": "", "name": "x"}, "destroy", map[string]string{"name": "x"}},
		{"exec_died", map[string]string{"containerExitCode": "0"}, "exec_die", map[string]string{}},
		{"die", map[string]string{"containerExitCode": "3", "exitCode": "3"}, "die", map[string]string{"exitCode": "3"}},
		{"init", map[string]string{"podId": "f00d"}, "init", map[string]string{"podId": "f00d"}},
		{"health_status", map[string]string{}, "health_status", map[string]string{}},
	} {
		ev := wire.ContainerEvent{Status: tc.action, Action: tc.action, Actor: wire.Actor{Attributes: tc.attrs}}
		podmanEvent(&ev)
		if ev.Action != tc.want || ev.Status != tc.want {
			t.Errorf("%s: action %q status %q, want %q", tc.action, ev.Action, ev.Status, tc.want)
		}
		if len(ev.Actor.Attributes) != len(tc.kept) {
			t.Errorf("%s: attributes %v, want %v", tc.action, ev.Actor.Attributes, tc.kept)
		}
		for k, v := range tc.kept {
			if ev.Actor.Attributes[k] != v {
				t.Errorf("%s: attributes %v, want %v", tc.action, ev.Actor.Attributes, tc.kept)
			}
		}
	}
}

func TestHealthAt(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	check := func(start, end time.Duration) *container.HealthcheckResult {
		return &container.HealthcheckResult{Start: at.Add(start), End: at.Add(end)}
	}
	old := check(-time.Minute, -time.Minute+time.Second)
	for _, tc := range []struct {
		name     string
		h        *container.Health
		want     string
		recorded bool
	}{
		{"no health check", nil, "", false},
		{"no check recorded yet", &container.Health{Status: container.Starting}, "", false},
		{"the event's check is the newest", &container.Health{Status: container.Healthy, Log: []*container.HealthcheckResult{old, check(-time.Second, time.Millisecond)}}, "healthy", true},
		{"the event's check not written yet", &container.Health{Status: container.Unhealthy, Log: []*container.HealthcheckResult{old}}, "", false},
		{"a newer check started", &container.Health{Status: container.Unhealthy, Log: []*container.HealthcheckResult{check(-time.Second, time.Millisecond), check(time.Second, 2*time.Second)}}, "", true},
	} {
		if got, recorded := healthAt(tc.h, at); got != tc.want || recorded != tc.recorded {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, recorded, tc.want, tc.recorded)
		}
	}
}

// TestPodmanBesideDocker watches the Docker engine and the Podman service
// at once and puts Podman through what the record must survive: a whole
// container lifecycle with a health check, the service stopped while a
// container exits (Podman's events log outlives the service, so resuming
// from it is no gap) and a lost events log (which is one). Every event
// `podman events` reports is stored once, in Docker's words.
func TestPodmanBesideDocker(t *testing.T) {
	d := dockerEngine(t)
	p := podmanEngine(t)
	pc := p.cli
	proxy := testenv.NewProxy(t, pc)
	col := newCollector(t)
	e := newEngines(t, Options{Journal: col, Hosts: []HostConfig{d.host, {Name: "podman", URL: proxy.URL()}}})
	start(t, e)
	dh := waitState(t, e, d.host.Name, wire.HostConnected)
	ph := waitState(t, e, "podman", wire.HostConnected)
	if dh.Engine != wire.EngineDocker || len(dh.Differences)+len(dh.Unavailable) != 0 {
		t.Errorf("Docker host %+v", dh)
	}
	var noted []string
	for _, n := range ph.Differences {
		noted = append(noted, n.Feature)
	}
	if ph.Engine != wire.EnginePodman || ph.Version != p.podman.Version() || len(ph.Unavailable) != 0 ||
		!slices.Equal(noted, []string{wire.FeatureEvents, wire.FeatureHealth, wire.FeatureLogs, wire.FeatureStats}) {
		t.Errorf("Podman host %+v", ph)
	}

	ctx := context.Background()
	since := engineNow(t, pc)
	short, _ := testenv.Run(t, pc, testenv.RunOptions{Args: []string{"-lines", "1", "-exit", "3"}})
	long, _ := testenv.Run(t, pc, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "100ms"},
		Healthcheck: &container.HealthConfig{Test: []string{"CMD", testenv.HelperPath, "-lines", "0"}, Interval: time.Hour}})
	testenv.WaitLog(t, pc, long, "line")
	mustDo(t, "pause", func() error { _, err := pc.ContainerPause(ctx, long, client.ContainerPauseOptions{}); return err })
	mustDo(t, "unpause", func() error { _, err := pc.ContainerUnpause(ctx, long, client.ContainerUnpauseOptions{}); return err })
	// Health checks need systemd timers to run by themselves; run one.
	p.podman.Output(t, "healthcheck", "run", long)
	col.wait(t, "health status", is(long, "health_status: healthy"))
	timeout := 10
	mustDo(t, "restart", func() error {
		_, err := pc.ContainerRestart(ctx, long, client.ContainerRestartOptions{Timeout: &timeout})
		return err
	})
	testenv.WaitLog(t, pc, long, "line")
	mustDo(t, "kill", func() error {
		_, err := pc.ContainerKill(ctx, long, client.ContainerKillOptions{Signal: "KILL"})
		return err
	})
	col.wait(t, "die after kill", func(ev wire.ContainerEvent) bool {
		return is(long, "die")(ev) && ev.Actor.Attributes["exitCode"] == "137"
	})
	if code := col.wait(t, "short die", is(short, "die")).Actor.Attributes["exitCode"]; code != "3" {
		t.Errorf("short die: exitCode %q, want 3", code)
	}
	beside, _ := testenv.Run(t, d.cli, testenv.RunOptions{Args: []string{"-exit", "0"}})
	col.wait(t, "die on Docker meanwhile", onHost(d.host.Name, is(beside, "die")))

	// The service stopped: a container exits meanwhile, which its conmon
	// records in the log the restarted service reads from.
	during, _ := testenv.Run(t, pc, testenv.RunOptions{Args: []string{"-lines", "1", "-sleep", "2s", "-exit", "5"}})
	p.podman.StopService(t)
	waitState(t, e, "podman", wire.HostUnreachable)
	p.podman.Output(t, "wait", during)
	p.podman.StartService(t)
	waitState(t, e, "podman", wire.HostConnected)
	if code := col.wait(t, "die while the service was down", is(during, "die")).Actor.Attributes["exitCode"]; code != "5" {
		t.Errorf("die while down: exitCode %q, want 5", code)
	}
	mustDo(t, "remove", func() error {
		_, err := pc.ContainerRemove(ctx, long, client.ContainerRemoveOptions{Force: true})
		return err
	})
	col.wait(t, "destroy", is(long, "destroy"))
	until := engineNow(t, pc)
	checkEachOnce(t, col, "podman", p.events(t, since, until), since, until)
	if g := col.gapsSnapshot(); len(g) != 0 {
		t.Errorf("gaps %+v, though Podman's log covers every outage", g)
	}
	for _, ev := range col.snapshot() {
		_, noise := ev.Actor.Attributes["containerExitCode"]
		if ev.Host == "podman" && (noise || ev.Action == "remove") {
			t.Errorf("stored in Podman's words: %s %v", ev.Action, ev.Actor.Attributes)
		}
	}

	// The events log lost while cut off: that is a gap, and what the lost
	// part held is reconciled from the container list.
	doomed, _ := testenv.Run(t, pc, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "1s"}})
	col.wait(t, "start of the container to lose", is(doomed, "start"))
	proxy.Cut()
	waitState(t, e, "podman", wire.HostUnreachable)
	mustDo(t, "remove", func() error {
		_, err := pc.ContainerRemove(ctx, doomed, client.ContainerRemoveOptions{Force: true})
		return err
	})
	if err := os.Truncate(p.podman.EventsLog(), 0); err != nil {
		t.Fatal(err)
	}
	born, _ := testenv.Run(t, pc, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "1s"}})
	proxy.Restore()
	if g := col.waitGap(t); g.Reason != wire.GapEventLog || g.Host != "podman" {
		t.Errorf("gap %+v, want %s on podman", g, wire.GapEventLog)
	}
	reconciledAs(t, col, doomed, "die")
	reconciledAs(t, col, doomed, "destroy")
	// What the log still holds is stored as the engine reported it.
	if ev := col.wait(t, "start after the loss", is(born, "start")); ev.Actor.Attributes[wire.ReconciledAttribute] != "" {
		t.Errorf("start of a container the log holds was reconciled: %+v", ev)
	}
}

// mustDo fails the test when the engine call fails.
func mustDo(t *testing.T, what string, call func() error) {
	t.Helper()
	if err := call(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestPodmanOverSSH reaches the Podman service through a real sshd, as an
// ssh:// host whose path names Podman's socket: Podman 4.3 has no
// "system dial-stdio" of its own, so the docker CLI on the far side
// relays to that socket.
func TestPodmanOverSSH(t *testing.T) {
	p := podmanEngine(t)
	sshd := testenv.SSHD(t)
	u, err := url.Parse(sshd.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = strings.TrimPrefix(p.host.URL, "unix://")
	h, err := ParseHost("remote-podman=" + u.String())
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(t)
	e := newEngines(t, Options{Journal: col, Hosts: []HostConfig{h}})
	start(t, e)
	if rh := waitState(t, e, "remote-podman", wire.HostConnected); rh.Engine != wire.EnginePodman || rh.Version != p.podman.Version() {
		t.Errorf("Podman over ssh: %+v", rh)
	}
	id, _ := testenv.Run(t, p.cli, testenv.RunOptions{Args: []string{"-exit", "6"}})
	if code := col.wait(t, "die through ssh", is(id, "die")).Actor.Attributes["exitCode"]; code != "6" {
		t.Errorf("die through ssh: exitCode %q, want 6", code)
	}
}

func TestPodmanUnavailable(t *testing.T) {
	info := func(cgroup string, opts ...string) client.SystemInfoResult {
		var r client.SystemInfoResult
		r.Info.CgroupVersion, r.Info.SecurityOptions = cgroup, opts
		return r
	}
	for _, tc := range []struct {
		name   string
		info   client.SystemInfoResult
		logger string
		want   []string
	}{
		{"rootful, file events", info("1", "name=seccomp"), "file", nil},
		{"rootless on cgroup v2", info("2", "name=rootless"), "journald", nil},
		{"rootless on cgroup v1", info("1", "name=rootless"), "file", []string{wire.FeatureStats}},
		{"no events logger", info("2"), "none", []string{wire.FeatureEvents}},
		{"logger unknown", info("2"), "", nil},
	} {
		var got []string
		for _, n := range podmanUnavailable(tc.info, tc.logger) {
			if n.Reason == "" {
				t.Errorf("%s: %s unavailable without a reason", tc.name, n.Feature)
			}
			got = append(got, n.Feature)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: unavailable %v, want %v", tc.name, got, tc.want)
		}
	}
}
