package docker

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// testEngine is an engine the integration tests run against, configured as
// crowsnest would be for it, with the engine's own account of its events as
// the oracle.
type testEngine struct {
	host   HostConfig
	cli    *client.Client
	image  string                // the helper image, as the engine names it in events
	podman *testenv.PodmanEngine // nil for Docker
}

// dockerEngine is the shared Docker engine, as the default host.
func dockerEngine(t *testing.T) testEngine {
	t.Helper()
	c := testenv.Engine(t)
	return testEngine{host: DefaultHost(), cli: c, image: testenv.HelperImage(t)}
}

// podmanEngine is the test binary's Podman service, as host "podman".
func podmanEngine(t *testing.T) testEngine {
	t.Helper()
	p := testenv.Podman(t)
	return testEngine{host: HostConfig{Name: "podman", URL: p.URL()}, cli: p.Client(), image: p.HelperImage(t), podman: p}
}

// forEachEngine runs f as a subtest against Docker, then against Podman.
func forEachEngine(t *testing.T, f func(*testing.T, testEngine)) {
	t.Run("docker", func(t *testing.T) { f(t, dockerEngine(t)) })
	t.Run("podman", func(t *testing.T) { f(t, podmanEngine(t)) })
}

// events is what the engine itself reports for this run's containers
// between since and until (timeNano, inclusive), in Docker's action names:
// Docker's API for Docker, the podman tool for Podman.
func (te testEngine) events(t *testing.T, since, until int64) []wire.ContainerEvent {
	t.Helper()
	if te.podman == nil {
		return engineEvents(t, te.cli, since, until)
	}
	return podmanEvents(t, te.podman, since, until)
}

// podmanActionNames are the words podman events prints where the API (and
// crowsnest) use Docker's.
var podmanActionNames = map[string]string{"died": "die", "remove": "destroy", "exec_died": "exec_die"}

// podmanEvents is `podman events --format json` for this run's containers
// in [since, until]. It asks for a little more than until and drops the
// rest: Podman stops reading its log once its clock passes until, so an
// until already past may come back short.
func podmanEvents(t *testing.T, p *testenv.PodmanEngine, since, until int64) []wire.ContainerEvent {
	t.Helper()
	key, value := testenv.Label(t)
	out := p.Output(t, "events", "--format", "json", "--filter", "type=container", "--filter", "label="+key+"="+value,
		"--since", sinceParam(since), "--until", sinceParam(until+int64(5*time.Second)))
	var evs []wire.ContainerEvent
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m struct {
			ID, Name, Image, Status string
			Time                    time.Time
			Attributes              map[string]string
		}
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("podman events: %v: %s", err, out)
		}
		if m.Time.UnixNano() > until {
			continue
		}
		action := m.Status
		if a, ok := podmanActionNames[action]; ok {
			action = a
		}
		evs = append(evs, wire.ContainerEvent{
			Status: action, ID: m.ID, From: m.Image, Type: "container", Action: action,
			Actor: wire.Actor{ID: m.ID, Attributes: m.Attributes},
			Time:  m.Time.Unix(), TimeNano: m.Time.UnixNano(),
		})
	}
	return evs
}
