package testenv

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// WaitLog waits until the container's output (stdout and stderr, or the
// TTY) contains text, failing the test after 30 s. Wait for the helper's
// first line before stopping it: until then its SIGTERM handler may not be
// installed, and PID 1 ignores signals it does not handle.
func WaitLog(tb testing.TB, c *client.Client, id, text string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := logs(c, id)
		if err != nil {
			tb.Fatalf("logs of %.12s: %v", id, err)
		}
		if strings.Contains(out, text) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("container %.12s never printed %q; output so far: %q", id, text, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logs returns everything the container printed so far, both streams
// together.
func logs(c *client.Client, id string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", err
	}
	r, err := c.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", err
	}
	defer func() { _ = r.Close() }()
	var buf bytes.Buffer
	if info.Container.Config != nil && info.Container.Config.Tty {
		// A TTY's log is raw, not multiplexed.
		_, err = buf.ReadFrom(r)
	} else {
		_, err = stdcopy.StdCopy(&buf, &buf, r)
	}
	return buf.String(), err
}
