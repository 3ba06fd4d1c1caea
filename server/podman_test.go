package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestPodmanHost runs crowsnest with --host podman=unix://… beside the
// local Docker engine and uses the Podman host through the public API and
// the UI: the host listing with its engine and notes, events, stats,
// container logs and container actions. (Stacks on Podman, which the
// server drives as on Docker, are proven in internal/stacks.)
func TestPodmanHost(t *testing.T) {
	p := testenv.Podman(t)
	pc := p.Client()
	image := p.HelperImage(t)
	s := startServer(t, "--host", "podman="+p.URL())

	ph := waitHost(t, s, "podman", time.Minute, wire.HostConnected)
	var noted []string
	for _, n := range ph.Differences {
		noted = append(noted, n.Feature)
	}
	if ph.Engine != wire.EnginePodman || ph.Version != p.Version() || len(ph.Unavailable) != 0 ||
		!slices.Contains(noted, wire.FeatureLogs) || !slices.Contains(noted, wire.FeatureEvents) {
		t.Errorf("podman host %+v", ph)
	}
	if dh := waitHost(t, s, "Localhost", time.Minute, wire.HostConnected); dh.Engine != wire.EngineDocker || len(dh.Differences) != 0 {
		t.Errorf("Localhost %+v", dh)
	}

	events := dialWS(t, eventsURL(s, url.Values{"filters": {`{"host":["podman"],"event":["start","die","destroy"]}`}}), nil)
	// The image as Docker would name it finds Podman's localhost/ image.
	byImage := dialWS(t, eventsURL(s, url.Values{"filters": {`{"image":["` + strings.TrimPrefix(image, "localhost/") + `"],"event":["start"]}`}}), nil)
	stats := dialWS(t, s.WS("/docker/stats?host=podman&interval=1"), nil)
	id, name := testenv.Run(t, pc, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "200ms", "-text", "on podman"}})
	if ev := events.waitAction(t, id, "start", time.Minute); ev.Host != "podman" || ev.Image() != image || ev.Name() != name {
		t.Errorf("start event %+v", ev)
	}
	if ev := byImage.waitAction(t, id, "start", time.Minute); ev.Image() != image {
		t.Errorf("start event by image filter %+v", ev)
	}
	waitStatsFrame(t, stats, "the podman container running", func(f statsFrame) bool {
		return f.ID == id && f.HostID == "podman" && f.State == "running" && f.MemoryBytes > 0
	})

	logs := dialWS(t, s.WS("/api/v1/containers/"+name+"/logs/ws?host=podman&tail=3"), nil)
	var l logFrame
	for l = nextFrame(t, logs); l.Message != ""; l = nextFrame(t, logs) {
	}
	if l.Stream != wire.StreamStdout || !strings.HasPrefix(l.Line, "on podman ") || l.Timestamp.IsZero() {
		t.Errorf("log line %s", l.raw)
	}

	// Actions by name on the named host: a stop lets the container end on
	// its stop signal, as on Docker.
	post := func(action string) {
		t.Helper()
		resp, err := http.Post(s.URL+"/api/v1/containers/"+name+"/"+action+"?host=podman", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%s: status %d", action, resp.StatusCode)
		}
	}
	post("stop")
	if code := events.waitAction(t, id, "die", time.Minute).Actor.Attributes["exitCode"]; code != "143" {
		t.Errorf("die after stop: exit code %s, want 143 (SIGTERM, not killed at once)", code)
	}
	post("start")
	events.waitAction(t, id, "start", time.Minute)
	post("restart")
	events.waitAction(t, id, "die", time.Minute)
	events.waitAction(t, id, "start", time.Minute)
	testenv.RemoveAll(t, pc)
	events.waitAction(t, id, "destroy", time.Minute)

	// The overview's engine card names the engine and lists where it
	// differs from Docker.
	t.Run("ui", func(t *testing.T) {
		chromiumPath(t)
		b := openUI(t, s, "/")
		card := `#hosts .host[data-host="podman"]`
		b.waitSelector("the podman card's differences", card+` li[data-differs="logs"]`, uiTimeout)
		if got := b.text(card); !strings.Contains(got, "Podman "+p.Version()) || !strings.Contains(got, "Differs from Docker (4)") {
			t.Errorf("podman card reads %q", got)
		}
		if got := b.text(`#hosts .host[data-host="Localhost"]`); !strings.Contains(got, "Docker ") || strings.Contains(got, "Differs") {
			t.Errorf("Localhost card reads %q", got)
		}
		b.expectNoProblems("overview with a Podman host")
		b.screenshots("hosts-podman")
	})
}
