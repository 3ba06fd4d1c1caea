package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/moby/client"
)

// sample takes one reading of a running container and turns it into a
// sample against the previous one; nil when there is no previous reading
// yet or the container could not be read (usually it just stopped, and
// the inventory will say so).
func (s *Sampler) sample(ctx context.Context, cli *client.Client, host string, wall bool, ct Container, t *target) *Sample {
	// A container restarted since it was inspected has a new pid (the
	// network counters of the cgroup source are read through it).
	if started := s.c.startedOf(host, ct.ID); t.started.IsZero() || started.After(t.started) {
		in, err := s.c.inspectTarget(ctx, cli, key{host, ct.ID})
		if err != nil {
			s.c.log.Debug("stats: sampler: inspecting", "host", host, "container", short(ct.ID), "err", err)
			return nil
		}
		t.fs.close()
		t.started, t.cgroup, t.restarts = in.started, in.cgroup, in.restarts
		if t.started.IsZero() {
			t.started = time.Now() // never inspect again for the same start
		}
	}
	cur, err := s.read(ctx, cli, host, wall, t)
	if err != nil {
		s.c.log.Debug("stats: sampler: reading", "host", host, "container", short(ct.ID), "err", err)
		return nil
	}
	prev, had := t.prev, t.has
	t.prev, t.has = cur, true
	if !had {
		return nil
	}
	ct.Restarts = t.restarts
	return &Sample{Container: ct, Reading: cur, Usage: Compute(prev, cur), Rates: ComputeRates(prev, cur)}
}

// read takes one reading from the container's cgroup files, or else from
// the engine (timed by the wall clock with wall, see busyTimeOnly): from
// the container's live stats stream when someone watches it and it was
// read within the last cadence, by a one-shot request otherwise.
func (s *Sampler) read(ctx context.Context, cli *client.Client, host string, wall bool, t *target) (Reading, error) {
	if t.cgroup != nil {
		return s.c.readCgroup(&t.fs, *t.cgroup)
	}
	if r, ok := s.c.liveReading(key{host, t.id}, time.Now().Add(-s.opts.Every)); ok && r.Time.After(t.prev.Time) {
		return r, nil
	}
	return oneShot(ctx, cli, t.id, wall)
}

// oneShot asks the engine for one reading without its previous sample,
// which the engine would wait a second to take: the sampler's own previous
// reading serves instead.
func oneShot(ctx context.Context, cli *client.Client, id string, wall bool) (Reading, error) {
	res, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{})
	if err != nil {
		return Reading{}, fmt.Errorf("stats of %.12s: %w", id, err)
	}
	defer func() { _ = res.Body.Close() }() // read to the end; nothing to report
	var f engineFrame
	if err := json.NewDecoder(res.Body).Decode(&f); err != nil {
		return Reading{}, fmt.Errorf("stats of %.12s: %w", id, err)
	}
	r := engineReading(f.CPUStats, &f, wall)
	if r.Time.IsZero() || r.Time.Year() <= 1 {
		r.Time = time.Now()
		if wall {
			r.System = wallSystem(r.Time, r.OnlineCPUs)
		}
	}
	return r, nil
}

// hostMemory is the engine's memory, asked of the engine once (and again
// each round while that fails); 0 while unknown.
func (s *Sampler) hostMemory(ctx context.Context, host string) uint64 {
	s.mu.Lock()
	mem, ok := s.hostMem[host]
	s.mu.Unlock()
	if ok {
		return mem
	}
	cli, err := s.c.eng.Client(host)
	if err != nil || !s.acquire(ctx) {
		return 0
	}
	res, err := cli.Info(ctx, client.InfoOptions{})
	s.release()
	if err != nil || res.Info.MemTotal <= 0 {
		s.c.log.Debug("stats: sampler: engine memory unknown", "host", host, "err", err)
		return 0
	}
	s.mu.Lock()
	s.hostMem[host] = uint64(res.Info.MemTotal)
	s.mu.Unlock()
	return uint64(res.Info.MemTotal)
}
