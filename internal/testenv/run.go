package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// LabelKey is the label every container a test makes carries; its value is
// unique to the test process (see Label), so a test can tell its own
// containers and events from those of packages running beside it, and a
// crashed run's leftovers can be found with `docker ps -a --filter label=…`.
const LabelKey = "org.crowsnest.test.run"

// cleanupTimeout bounds removing a container at the end of a test.
const cleanupTimeout = 30 * time.Second

var (
	runIDOnce sync.Once
	runID     string
	nameSeq   atomic.Uint64
)

// Label returns the run-unique label: LabelKey and this process's value.
func Label(tb testing.TB) (key, value string) {
	tb.Helper()
	runIDOnce.Do(func() {
		b := make([]byte, 6)
		_, _ = rand.Read(b) // crypto/rand.Read never returns an error
		runID = hex.EncodeToString(b)
	})
	return LabelKey, runID
}

// RunOptions describe a helper container for Run.
type RunOptions struct {
	// Args are the helper's flags (see internal/testenv/helper), e.g.
	// {"-lines", "3", "-exit", "7"}.
	Args []string
	// Name is the container name; empty picks a unique one.
	Name string
	// Labels are added to the run label.
	Labels map[string]string
	// Env is the container environment, "KEY=value" each.
	Env []string
	// TTY allocates a terminal, which merges stderr into stdout.
	TTY bool
	// Memory is the memory limit in bytes; 0 means none.
	Memory int64
	// Image overrides the helper image.
	Image string
	// NoStart only creates the container.
	NoStart bool
	// HostConfig, when set, is the container's host configuration (binds,
	// published ports, groups…); Memory still applies to it.
	HostConfig *container.HostConfig
	// Healthcheck, when set, is the container's health check, e.g.
	// {"CMD", HelperPath, "-exit", "1"} for one that always fails.
	Healthcheck *container.HealthConfig
}

// Run creates and starts a helper container on c carrying the run label and
// returns its ID and name. It is force-removed when the test ends.
func Run(tb testing.TB, c *client.Client, opts RunOptions) (id, name string) {
	tb.Helper()
	image := opts.Image
	if image == "" {
		image = helperImageOn(tb, c)
	}
	key, value := Label(tb)
	name = opts.Name
	if name == "" {
		name = fmt.Sprintf("cn-test-%s-%d", value, nameSeq.Add(1))
	}
	labels := maps.Clone(opts.Labels)
	if labels == nil {
		labels = make(map[string]string)
	}
	labels[key] = value

	host := &container.HostConfig{}
	if opts.HostConfig != nil {
		host = opts.HostConfig
	}
	host.Resources.Memory = opts.Memory

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:       image,
			Cmd:         opts.Args,
			Env:         opts.Env,
			Labels:      labels,
			Tty:         opts.TTY,
			Healthcheck: opts.Healthcheck,
		},
		HostConfig: host,
	})
	if err != nil {
		tb.Fatalf("creating container %s: %v", name, err)
	}
	id = res.ID
	tb.Cleanup(func() { remove(tb, c, id) })
	if opts.NoStart {
		return id, name
	}
	if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		tb.Fatalf("starting container %s: %v", name, err)
	}
	return id, name
}

// RemoveAll force-removes every container carrying this run's label, for
// tests that make containers by other means than Run.
func RemoveAll(tb testing.TB, c *client.Client) {
	tb.Helper()
	key, value := Label(tb)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	list, err := c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", key+"="+value),
	})
	if err != nil {
		tb.Errorf("listing this run's containers: %v", err)
		return
	}
	for _, ctr := range list.Items {
		remove(tb, c, ctr.ID)
	}
}

// remove force-removes one container; one already gone is fine.
func remove(tb testing.TB, c *client.Client, id string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, err := c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		tb.Errorf("removing container %.12s: %v", id, err)
	}
}

// Stop stops a running helper container. It first waits for the helper's
// first line: the helper runs as PID 1, which ignores a SIGTERM that comes
// before its handler is in place, so an early stop would take the whole
// timeout and end in a kill. Once it printed, it exits at once (143).
func Stop(tb testing.TB, c *client.Client, id string) {
	tb.Helper()
	WaitLog(tb, c, id, "line")
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	timeout := 10
	if _, err := c.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		tb.Fatalf("stopping %.12s: %v", id, err)
	}
}

// WaitExit waits until a container no longer runs.
func WaitExit(tb testing.TB, c *client.Client, id string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	w := c.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
	case err := <-w.Error:
		tb.Fatalf("waiting for %.12s to stop: %v", id, err)
	}
}
