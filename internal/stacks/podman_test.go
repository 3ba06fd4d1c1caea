package stacks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/compose/v5/pkg/api"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestStackOnPodman deploys a two-service stack (its own network and
// volume) on Podman through the compose library, deploys it again, stops
// it and removes it, checking each step with the podman tool: the second
// deploy keeps the unchanged containers, the stop lets the services end on
// their stop signal, and the removal leaves nothing behind.
func TestStackOnPodman(t *testing.T) {
	p := testenv.Podman(t)
	image := p.HelperImage(t)
	m := podmanManager(t, p)
	sub := m.Subscribe(4096)
	defer sub.Close()

	key, run := testenv.Label(t)
	name := "cn-" + run + "-pod"
	compose := fmt.Sprintf(`services:
  web:
    image: %[1]s
    command: ["-lines", "1", "-text", "web", "-sleep", "1h"]
    networks: [back]
    labels: {%[2]s: %[3]s}
  db:
    image: %[1]s
    command: ["-lines", "1", "-text", "db", "-sleep", "1h"]
    volumes: [data:/data]
    networks: [back]
    labels: {%[2]s: %[3]s}
networks:
  back: {}
volumes:
  data: {}
`, image, key, run)
	ctx := context.Background()
	st, err := m.Create(ctx, wire.StackRequest{Name: name, Compose: compose})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.RemoveAll(t, p.Client()) })

	act(t, m, sub, st.ID, Deploy, wire.StackDeployed)
	deployed := podmanProject(t, p, name)
	if len(deployed) != 2 || deployed["web"].State != "running" || deployed["db"].State != "running" {
		t.Fatalf("after deploy, podman lists %+v", deployed)
	}
	if got, _ := m.Get(ctx, st.ID); got.Status != wire.StackRunning {
		t.Errorf("after deploy: status %q", got.Status)
	}

	// Deployed again unchanged, the running containers stay as they are;
	// stopped, each ends on its stop signal.
	act(t, m, sub, st.ID, Deploy, wire.StackDeployed)
	for _, svc := range []string{"web", "db"} {
		testenv.WaitLog(t, p.Client(), deployed[svc].ID, svc+" 1") // its SIGTERM handler is in place
	}
	act(t, m, sub, st.ID, Stop, wire.StackStopped)
	for svc, c := range podmanProject(t, p, name) {
		if c.ID != deployed[svc].ID {
			t.Errorf("%s after the second deploy: %.12s, want %.12s kept", svc, c.ID, deployed[svc].ID)
		}
		if c.State != "exited" || c.ExitCode != 143 {
			t.Errorf("%s after stop: %s, exit code %d; want exited on SIGTERM (143)", svc, c.State, c.ExitCode)
		}
	}

	act(t, m, sub, st.ID, Remove, "")
	if left := podmanProject(t, p, name); len(left) != 0 {
		t.Errorf("containers left after remove: %+v", left)
	}
	for _, kind := range []string{"network", "volume"} {
		out := p.Output(t, kind, "ls", "--quiet", "--filter", "label="+api.ProjectLabel+"="+name)
		if len(out) != 0 {
			t.Errorf("%ss left after remove: %s", kind, out)
		}
	}
}

// podmanManager runs crowsnest's engines and a stack manager for the Podman
// service, as host "podman", until the test ends.
func podmanManager(t *testing.T, p *testenv.PodmanEngine) *Manager {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(filepath.Join(t.TempDir(), "crowsnest.db"), store.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := store.NewStacks(st)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := docker.New(docker.Options{
		Hosts:   []docker.HostConfig{{Name: "podman", URL: p.URL()}},
		Journal: docker.StoreJournal(st),
		Logger:  log,
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Records: recs, Events: st, Engines: eng, DataDir: t.TempDir(), DefaultHost: "podman", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = eng.Run(ctx); done <- struct{}{} }()
	go func() { m.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		for _, err := range []error{m.Close(), eng.Close(), st.Close()} {
			if err != nil {
				t.Error(err)
			}
		}
	})
	return m
}

// act runs action on stack id and waits until it ends: with the status
// want, or removed when want is empty.
func act(t *testing.T, m *Manager, sub *hub.Subscription[Message], id int64, action, want string) {
	t.Helper()
	if _, err := m.Act(context.Background(), id, action); err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	var seen []string
	deadline := time.After(2 * time.Minute)
	for {
		var msg Message
		select {
		case msg = <-sub.C():
		case <-sub.Done():
			t.Fatalf("%s: subscription ended: %v", action, sub.Err())
		case <-deadline:
			t.Fatalf("%s did not end; messages: %q", action, seen)
		}
		if msg.StackID != id {
			continue
		}
		seen = append(seen, string(msg.Frame))
		var f struct {
			Type string           `json:"type"`
			Data wire.StackStatus `json:"data"`
		}
		if err := json.Unmarshal(msg.Frame, &f); err != nil {
			t.Fatalf("%s: frame %s: %v", action, msg.Frame, err)
		}
		switch {
		case f.Type == wire.StackRemovedType && want == "":
			return
		case f.Type == wire.StackStatusType && f.Data.Status != wire.StackPending:
			if f.Data.Status != want {
				t.Fatalf("%s ended %s, want %s; messages: %q", action, f.Data.Status, want, seen)
			}
			return
		}
	}
}

// podmanContainer is what `podman ps --format json` says of a container.
type podmanContainer struct {
	ID       string `json:"Id"`
	State    string
	ExitCode int
	Labels   map[string]string
}

// podmanProject is what the podman tool lists of a compose project, by
// service.
func podmanProject(t *testing.T, p *testenv.PodmanEngine, project string) map[string]podmanContainer {
	t.Helper()
	var list []podmanContainer
	out := p.Output(t, "ps", "--all", "--format", "json", "--filter", "label="+api.ProjectLabel+"="+project)
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("podman ps: %v: %s", err, out)
	}
	byService := make(map[string]podmanContainer, len(list))
	for _, c := range list {
		byService[c.Labels[api.ServiceLabel]] = c
	}
	return byService
}
