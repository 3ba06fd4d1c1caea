package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// pingTimeout bounds the reachability check so a hung engine skips quickly.
const pingTimeout = 10 * time.Second

// Engine returns a client for the engine named by DOCKER_HOST (or the default
// socket), after checking that it answers. Without an engine the test is
// skipped with one line saying why; with CI=true it fails instead, so a CI
// run can never pass by silently skipping everything. The client is closed
// when the test ends.
func Engine(tb testing.TB) *client.Client {
	tb.Helper()
	c, err := client.New(client.FromEnv)
	if err != nil {
		Unavailable(tb, "no Docker engine client: %v", err)
		return nil
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Logf("closing engine client: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		Unavailable(tb, "no Docker engine at %s: %v", c.DaemonHost(), err)
		return nil
	}
	return c
}

// Unavailable fails under CI=true and skips elsewhere: what a test needs
// from the machine is missing.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format, args...)
}
