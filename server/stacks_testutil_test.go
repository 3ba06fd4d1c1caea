package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// stackFrame is a decoded /stacks message; Data holds the fields of every
// message type.
type stackFrame struct {
	Type string `json:"type"`
	Data struct {
		StackID   int64  `json:"stack_id"`
		Status    string `json:"status"`
		Action    string `json:"action"`
		Message   string `json:"message"`
		Timestamp string `json:"timestamp"`
	} `json:"data"`
	raw string
}

func (f stackFrame) String() string { return f.raw }

// next decodes the next /stacks frame, failing after d.
func (c *wsClient) nextStack(t testing.TB, d time.Duration) stackFrame {
	t.Helper()
	select {
	case raw := <-c.frames:
		var f stackFrame
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("frame is not a stack message: %v: %s", err, raw)
		}
		f.raw = string(raw)
		return f
	case err := <-c.closed:
		t.Fatalf("stacks socket closed: %v", err)
	case <-time.After(d):
		t.Fatalf("no stack message within %v", d)
	}
	return stackFrame{}
}

// untilDone reads stack id's messages until its action ends: the first
// stack-status that is not pending, or stack-removed. It returns every
// message of that stack read, the last one included.
func (c *wsClient) untilDone(t testing.TB, id int64, d time.Duration) []stackFrame {
	t.Helper()
	deadline := time.Now().Add(d)
	var got []stackFrame
	for {
		f := c.nextStack(t, time.Until(deadline))
		if f.Data.StackID != id {
			continue
		}
		got = append(got, f)
		if f.Type == wire.StackRemovedType || (f.Type == wire.StackStatusType && f.Data.Status != wire.StackPending) {
			return got
		}
	}
}

// api sends a JSON request to the server and decodes a JSON answer into out
// (when not nil); it returns the status and the raw body.
func apiCall(t testing.TB, s *liveServer, method, path string, in, out any) (int, string) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, string(data)
}

// mustAPI is apiCall that fails unless the status is want.
func mustAPI(t testing.TB, s *liveServer, method, path string, in, out any, want int) {
	t.Helper()
	if got, body := apiCall(t, s, method, path, in, out); got != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, body)
	}
}

// stackName is a project name unique to this test process.
func stackName(t testing.TB, suffix string) string {
	_, run := testenv.Label(t)
	return "cn-" + run + "-" + suffix
}

// twoServiceStack is the test stack: db (healthchecked, with a named
// volume) and web (depending on db being healthy, reading the env file),
// on their own network. webText changes web's command only.
func twoServiceStack(t testing.TB, image, webText string) string {
	key, run := testenv.Label(t)
	return fmt.Sprintf(`services:
  db:
    image: %[1]s
    command: ["-lines", "1", "-text", "db", "-sleep", "1h"]
    healthcheck:
      test: ["CMD", "/helper", "-lines", "0"]
      interval: 1s
      timeout: 5s
      retries: 5
    volumes:
      - data:/data
    networks: [back]
    labels:
      %[2]s: %[3]s
  web:
    image: %[1]s
    command: ["-lines", "1", "-text", "%[4]s ${GREETING}", "-sleep", "1h"]
    env_file: [.env]
    depends_on:
      db:
        condition: service_healthy
    networks: [back]
    labels:
      %[2]s: %[3]s
networks:
  back: {}
volumes:
  data: {}
`, image, key, run, webText)
}

// composeFor builds a compose service on the test engine, as a separate
// program using the library would.
func composeFor(t testing.TB, c *client.Client) api.Compose {
	t.Helper()
	dc, err := command.NewDockerCli(command.WithAPIClient(c), command.WithOutputStream(io.Discard), command.WithErrorStream(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := dc.Initialize(flags.NewClientOptions()); err != nil {
		t.Fatal(err)
	}
	svc, err := compose.NewComposeService(dc)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// cleanupProject takes project down when the test ends, whatever state it
// was left in, and removes any network or volume of it that remains.
func cleanupProject(t testing.TB, c *client.Client, project string) {
	t.Helper()
	svc := composeFor(t, c)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := svc.Down(ctx, project, api.DownOptions{RemoveOrphans: true, Volumes: true}); err != nil {
			t.Errorf("compose down %s: %v", project, err)
		}
		f := make(client.Filters).Add("label", api.ProjectLabel+"="+project)
		nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			t.Errorf("listing networks of %s: %v", project, err)
		}
		for _, n := range nets.Items {
			if _, err := c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				t.Errorf("removing network %s: %v", n.Name, err)
			}
		}
		vols, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
		if err != nil {
			t.Errorf("listing volumes of %s: %v", project, err)
		}
		for _, v := range vols.Items {
			if _, err := c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				t.Errorf("removing volume %s: %v", v.Name, err)
			}
		}
	})
}

// projectContainers maps service name to container of a project.
func projectContainers(t testing.TB, c *client.Client, project string) map[string]string {
	t.Helper()
	res, err := c.ContainerList(context.Background(), client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+project),
	})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, ctr := range res.Items {
		out[ctr.Labels[api.ServiceLabel]] = ctr.ID
		for _, l := range []string{api.ProjectLabel, api.ServiceLabel, api.VersionLabel, api.OneoffLabel, api.WorkingDirLabel, api.ConfigFilesLabel} {
			if ctr.Labels[l] == "" {
				t.Errorf("container %s lacks the compose label %s", ctr.Names, l)
			}
		}
	}
	return out
}

// projectResources counts a project's networks and volumes.
func projectResources(t testing.TB, c *client.Client, project string) (nets, vols int) {
	t.Helper()
	f := make(client.Filters).Add("label", api.ProjectLabel+"="+project)
	n, err := c.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.VolumeList(context.Background(), client.VolumeListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return len(n.Items), len(v.Items)
}

// upExternal deploys a one-service project with the compose library alone,
// labelled as the CLI labels it, as if started outside crowsnest.
func upExternal(t testing.TB, c *client.Client, project, image string) {
	t.Helper()
	key, run := testenv.Label(t)
	svc := composeFor(t, c)
	cleanupProject(t, c, project)
	p := &types.Project{
		Name:       project,
		WorkingDir: t.TempDir(),
		Services: types.Services{
			"solo": {
				Name:    "solo",
				Image:   image,
				Command: types.ShellCommand{"-lines", "1", "-sleep", "1h"},
				Labels:  types.Labels{key: run},
				CustomLabels: types.Labels{
					api.ProjectLabel: project, api.ServiceLabel: "solo", api.VersionLabel: api.ComposeVersion,
					api.OneoffLabel: "False", api.WorkingDirLabel: "/", api.ConfigFilesLabel: "compose.yaml",
				},
			},
		},
		Networks: types.Networks{"default": {Name: project + "_default"}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := svc.Up(ctx, p, api.UpOptions{Start: api.StartOptions{Project: p}}); err != nil {
		t.Fatalf("compose up %s: %v", project, err)
	}
}
