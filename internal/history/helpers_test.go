package history

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/stats"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// base is a round time on every tier's step boundary.
var base = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// openTest opens a store in a temporary directory with the clock given.
func openTest(t testing.TB, c *clock, tiers []Tier) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.db")
	s, err := Open(path, Options{Tiers: tiers, Now: c.now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// sample is a container's sample with the given CPU percent and memory.
func sample(host, id, name string, cpu float64, mem uint64) stats.Sample {
	return stats.Sample{
		Container: stats.Container{Host: host, ID: id, Name: name, Image: "img:" + name, State: "running",
			Labels: map[string]string{labelProject: "proj", labelService: name}},
		Usage: stats.Usage{CPUPercent: cpu, MemoryBytes: mem, MemoryPercent: 10, MemoryLimit: 10 * mem},
		Rates: stats.Rates{NetRx: 1000, NetTx: 500, BlockRead: 20, BlockWrite: 40},
	}
}

// record records rounds every step from start (inclusive) to end
// (exclusive), moving the clock along, with the samples of each round.
func record(t testing.TB, s *Store, c *clock, start, end time.Time, step time.Duration, samples func(time.Time) []stats.Sample) {
	t.Helper()
	for at := start; at.Before(end); at = at.Add(step) {
		c.t = at
		if err := s.Record(context.Background(), stats.Round{Time: at, Samples: samples(at), HostMemory: map[string]uint64{"local": 1 << 30}}); err != nil {
			t.Fatal(err)
		}
	}
}
