package testenv

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestHelperImageLoadsOnceAndRuns(t *testing.T) {
	c := Engine(t)
	ref := HelperImage(t)
	ctx := context.Background()

	img, err := c.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatalf("inspecting %s: %v", ref, err)
	}
	if got := img.Config.Entrypoint; len(got) != 1 || got[0] != "/helper" {
		t.Errorf("entrypoint = %q, want [/helper]", got)
	}
	if _, err := c.ImageInspect(ctx, HelperRepo+":latest"); err != nil {
		t.Errorf("latest tag missing: %v", err)
	}
	if again := HelperImage(t); again != ref {
		t.Errorf("second HelperImage = %s, want %s", again, ref)
	}

	// Below the per-process cache: with the tag present, ensureImage must
	// not load again, and the image must stay the same one.
	v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bin, err := buildHelper(ctx, v.Arch)
	if err != nil {
		t.Fatal(err)
	}
	ref2, loaded, err := ensureImage(ctx, c, bin, v.Arch)
	if err != nil {
		t.Fatal(err)
	}
	if loaded || ref2 != ref {
		t.Errorf("ensureImage with the image present: ref %s loaded %v, want %s without loading", ref2, loaded, ref)
	}
	img2, err := c.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if img2.ID != img.ID {
		t.Errorf("image ID changed from %s to %s", img.ID, img2.ID)
	}
}

func TestImageArchiveIsDeterministic(t *testing.T) {
	a, err := imageArchive([]byte("bin"), "amd64", "x:1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := imageArchive([]byte("bin"), "amd64", "x:1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two archives of the same binary differ; concurrent loads would make two images")
	}
}

func TestHelperPrintsLinesAndExitCode(t *testing.T) {
	c := Engine(t)
	id, _ := Run(t, c, RunOptions{Args: []string{"-lines", "3", "-stderr", "-text", "hello", "-exit", "7"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	wait := c.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-wait.Result:
		if res.StatusCode != 7 {
			t.Errorf("exit code = %d, want 7", res.StatusCode)
		}
	case err := <-wait.Error:
		t.Fatalf("waiting: %v", err)
	}

	logs, err := c.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logs.Close() }()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, logs); err != nil {
		t.Fatal(err)
	}
	if want := "hello 1\nhello 2\nhello 3\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	if want := "err hello 1\nerr hello 2\nerr hello 3\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}

	key, value := Label(t)
	info, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Container.Config.Labels[key] != value {
		t.Errorf("labels = %v, want %s=%s", info.Container.Config.Labels, key, value)
	}
}

func TestStopEndsHelperPromptly(t *testing.T) {
	c := Engine(t)
	id, _ := Run(t, c, RunOptions{Args: []string{"-lines", "-1", "-every", "100ms"}})
	WaitLog(t, c, id, "line 1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	timeout := 10
	if _, err := c.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v: the helper ignored SIGTERM", d)
	}
	info, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Container.State.ExitCode != 143 {
		t.Errorf("exit code after stop = %d, want 143", info.Container.State.ExitCode)
	}
}

func TestProxyCutAndRestore(t *testing.T) {
	real := Engine(t)
	p := NewProxy(t, real)
	c, err := client.New(client.WithHost(p.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("ping through the proxy: %v", err)
	}
	// A long-lived stream through the proxy must end when cut.
	ev := c.Events(ctx, client.EventsListOptions{})
	p.Cut()
	select {
	case err := <-ev.Err:
		if err == nil {
			t.Error("event stream ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event stream survived Cut")
	}
	if _, err := c.Ping(ctx, client.PingOptions{}); err == nil {
		t.Error("ping succeeded while cut")
	}
	p.Restore()
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		t.Errorf("ping after Restore: %v", err)
	}
	if !strings.HasPrefix(p.URL(), "unix://") {
		t.Errorf("URL = %s, want unix://…", p.URL())
	}
}
