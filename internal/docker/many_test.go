package docker

import (
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// manyEngines is the CI-sized version of BenchmarkEngines' 500 engines.
const manyEngines = 20

// maxHeapPerEngine bounds the heap a connected, idle engine holds: its
// client, connections and goroutines, not room for a burst of events it
// is not receiving (an ingest queue of DefaultIngestQueue events reserved
// up front held over a megabyte per engine).
const maxHeapPerEngine = 256 << 10

// TestManyEngines connects one engine exposed on 20 loopback TCP ports as
// 20 hosts: all of them connect, each stores a container's start once, and
// the idle engines hold little memory each.
func TestManyEngines(t *testing.T) {
	cli := testenv.Engine(t)
	ports := testenv.NewPorts(t, cli, manyEngines)
	hosts := make([]HostConfig, manyEngines)
	for i, u := range ports.URLs {
		hosts[i] = HostConfig{Name: fmt.Sprintf("e%02d", i), URL: u}
	}
	col := newCollector(t)
	heap0 := heapInUse()
	e := newEngines(t, Options{Hosts: hosts, Journal: col, Logger: slog.New(slog.DiscardHandler)})
	start(t, e)
	for _, h := range hosts {
		waitState(t, e, h.Name, wire.HostConnected)
	}
	perEngine := (int64(heapInUse()) - int64(heap0)) / manyEngines
	t.Logf("%d engines connected; heap per engine %d KiB", manyEngines, perEngine>>10)
	if perEngine > maxHeapPerEngine {
		t.Errorf("each idle engine holds %d KiB of heap, want at most %d KiB", perEngine>>10, maxHeapPerEngine>>10)
	}

	id, _ := testenv.Run(t, cli, testenv.RunOptions{Args: []string{"-sleep", "1h"}})
	for _, h := range hosts {
		col.wait(t, "start on "+h.Name, func(ev wire.ContainerEvent) bool {
			return ev.Host == h.Name && ev.Actor.ID == id && ev.Action == "start"
		})
	}
	time.Sleep(200 * time.Millisecond) // a duplicate would be stored by now
	starts := map[string]int{}
	for _, ev := range col.snapshot() {
		if ev.Actor.ID == id && ev.Action == "start" {
			starts[ev.Host]++
		}
	}
	for _, h := range hosts {
		if starts[h.Name] != 1 {
			t.Errorf("host %s stored the start %d times, want once", h.Name, starts[h.Name])
		}
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
