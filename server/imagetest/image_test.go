// Package imagetest checks the container image: the runtime image from a
// binary built here (make image) and the Dockerfile's default target built
// from source. It is a package of its own so that go test runs its long
// image builds beside the server package's tests rather than after them.
package imagetest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestContainerImage builds the runtime image from a binary built here, as
// make image does (no base image can be pulled), runs it as non-root with the
// engine socket, and checks that it serves and sees the engine.
func TestContainerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image")
	}
	c := testenv.Engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	key, run := testenv.Label(t)
	tag := "crowsnest-test:" + run
	buildImage(t, ctx, c, tag, map[string]string{key: run})
	t.Cleanup(func() {
		if _, err := c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("remove image: %v", err)
		}
	})

	checkImage(t, ctx, c, tag, false)
}

// TestContainerImageFromSource builds the Dockerfile's default target, as
// docker build . and the compose file's build: . do: the UI and the binary
// built in the Go build stage. No registry is reachable here or in CI, so
// when the engine lacks that stage's base image, testenv.GoBase makes it
// from Debian and the Go toolchain running the tests.
func TestContainerImageFromSource(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image from source")
	}
	c := testenv.Engine(t)
	if _, err := exec.LookPath("docker"); err != nil {
		testenv.Unavailable(t, "no docker CLI to build with: %v", err)
	}
	root := testenv.RepoRoot(t)
	testenv.GoBase(t, c, buildStageBase(t, root), root)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	key, run := testenv.Label(t)
	// The build stage is built first, tagged, so that it is removed at the
	// end: the classic builder would keep it as an untagged image of nearly
	// 2 GB. The default target then takes that stage from the build cache.
	stage, tag := "crowsnest-test-src-build:"+run, "crowsnest-test-src:"+run
	for _, b := range []struct {
		ref    string
		target []string
	}{{stage, []string{"--target", "build"}}, {tag, nil}} {
		args := append([]string{"build", "--force-rm", "--label", key + "=" + run, "-t", b.ref}, append(b.target, root)...)
		start := time.Now()
		if out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("docker %s took %s", strings.Join(args, " "), time.Since(start).Round(time.Second))
		t.Cleanup(func() {
			if _, err := c.ImageRemove(context.Background(), b.ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
				t.Errorf("remove image %s: %v", b.ref, err)
			}
		})
	}
	checkImage(t, ctx, c, tag, true)
}

// buildStageBase is the base image of the Dockerfile's build stage.
func buildStageBase(t *testing.T, root string) string {
	t.Helper()
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^FROM (\S+) AS build$`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("the Dockerfile has no FROM ... AS build stage")
	}
	return string(m[1])
}

// checkImage runs image tag as the README says (socket and its group, a
// read token), checks that it runs as non-root, sees its engine and, when
// ui is set, serves the web UI's wasm.
func checkImage(t *testing.T, ctx context.Context, c *client.Client, tag string, ui bool) {
	t.Helper()
	var sock syscall.Stat_t
	if err := syscall.Stat("/var/run/docker.sock", &sock); err != nil {
		t.Skipf("no engine socket to mount: %v", err)
	}
	id, _ := testenv.Run(t, c, testenv.RunOptions{Image: tag, Env: []string{"CROWSNEST_TOKEN=read:image-test-token-0123"}, NoStart: true,
		HostConfig: &container.HostConfig{
			Binds:        []string{"/var/run/docker.sock:/var/run/docker.sock"},
			GroupAdd:     []string{fmt.Sprint(sock.Gid)},
			PortBindings: network.PortMap{network.MustParsePort("8080/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1")}}},
		}})
	if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	in, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := in.Container.Config.User; u != "65532:65532" {
		t.Errorf("image runs as %q, want the non-root 65532:65532", u)
	}
	bindings := in.Container.NetworkSettings.Ports[network.MustParsePort("8080/tcp")]
	if len(bindings) == 0 {
		t.Fatal("port 8080 is not published")
	}
	base := "http://127.0.0.1:" + bindings[0].HostPort

	var hosts []wire.Host
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", base+"/api/v1/hosts", nil)
		req.Header.Set("Authorization", "Bearer image-test-token-0123")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&hosts)
			resp.Body.Close()
			if err == nil && len(hosts) == 1 && hosts[0].State == wire.HostConnected {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerised crowsnest never saw its engine: %v %+v\n%s", err, hosts, containerLogs(t, c, id))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !ui {
		return
	}
	resp, err := http.Get(base + "/web/app.wasm")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || n < 1<<20 {
		t.Errorf("the image's /web/app.wasm: %d, %d bytes: the UI was not built into it", resp.StatusCode, n)
	}
}

// buildImage builds prebuilt.Dockerfile, as make image does, from a static
// binary.
func buildImage(t *testing.T, ctx context.Context, c *client.Client, tag string, labels map[string]string) {
	t.Helper()
	root := testenv.RepoRoot(t)
	dockerfile, err := os.ReadFile(filepath.Join(root, "prebuilt.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	binary, err := os.ReadFile(staticBinary(t, root))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
		dir  bool
	}{
		{name: "Dockerfile", mode: 0o644, data: dockerfile},
		{name: "bin/", mode: 0o755, dir: true},
		{name: "bin/data/", mode: 0o755, dir: true},
		{name: "bin/crowsnest", mode: 0o755, data: binary},
	} {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}
		if f.dir {
			hdr.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := c.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true, Labels: labels})
	if err != nil {
		t.Fatalf("image build: %v", err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(`"error"`)) || !bytes.Contains(out, []byte("Successfully tagged")) {
		t.Fatalf("image build failed:\n%s", out)
	}
}

// containerLogs is what a container printed, for failure messages.
func containerLogs(t *testing.T, c *client.Client, id string) string {
	rc, err := c.ContainerLogs(context.Background(), id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return err.Error()
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err.Error()
	}
	return strings.ToValidUTF8(string(b), "?")
}

// staticBinary builds crowsnest as make build does, into a directory the
// test removes, and returns its path.
func staticBinary(t *testing.T, root string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crowsnest")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", path, "./server")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return path
}
