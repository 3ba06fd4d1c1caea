package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/moby/moby/client"
)

// An engine remembers its last 256 events for subscribers that resume. Tests
// that prove nothing is lost across a cut rely on that memory; tests of gaps
// flood it on purpose. Packages run in parallel against one engine, so the
// two kinds take a lock on a file shared by every test process: shared for
// the first, exclusive for the second.
var memoryLock = filepath.Join(os.TempDir(), "crowsnest-test-engine-memory.lock")

// ShareEngineMemory keeps the engine's event memory from being flooded by
// another test until tb ends.
func ShareEngineMemory(tb testing.TB) { lockMemory(tb, syscall.LOCK_SH) }

// FloodEngineMemory makes the engine forget every event it holds: it emits
// more than 256 image events (tagging the helper image and removing the tags)
// once no test relies on that memory, and keeps others out until tb ends.
func FloodEngineMemory(tb testing.TB, c *client.Client) {
	tb.Helper()
	lockMemory(tb, syscall.LOCK_EX)
	image := HelperImage(tb)
	ctx := context.Background()
	_, value := Label(tb)
	for i := range 150 {
		tag := fmt.Sprintf("crowsnest-flood-%s:%d", value, i)
		if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: image, Target: tag}); err != nil {
			tb.Fatalf("flooding the engine's memory: %v", err)
		}
		if _, err := c.ImageRemove(ctx, tag, client.ImageRemoveOptions{}); err != nil {
			tb.Fatalf("flooding the engine's memory: %v", err)
		}
	}
}

func lockMemory(tb testing.TB, how int) {
	tb.Helper()
	f, err := os.OpenFile(memoryLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		tb.Fatalf("engine memory lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		tb.Fatalf("engine memory lock: %v", err)
	}
	tb.Cleanup(func() { f.Close() }) // closing releases the lock
}
