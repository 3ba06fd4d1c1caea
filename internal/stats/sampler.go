package stats

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of SamplerOptions.
const (
	DefaultSampleEvery       = 10 * time.Second
	DefaultSampleConcurrency = 4
	DefaultSampleTotal       = 256
)

// SamplerOptions configure a Sampler; zero values take the defaults.
type SamplerOptions struct {
	// Every is the sampling cadence (--stats-every). Rounds start on the
	// multiples of Every since the Unix epoch, so their times line up with
	// the steps of a stored history.
	Every time.Duration
	// Concurrency bounds the stats requests in flight to one engine read
	// through its API, so a host with many containers is not hammered.
	Concurrency int
	// Total bounds the engine requests in flight across all engines at
	// once, so a round over hundreds of engines holds a bounded number of
	// connections and decoders rather than Concurrency for each engine.
	// A one-shot request waits for the engine's next collection (up to a
	// second on Docker 20.10), so Total is sized for the round to finish
	// within Every: 256 reads 500 engines with 2 containers each in about
	// 4 s there.
	Total int
}

// Container is the identity and state of a container the inventory knows.
type Container struct {
	Host, ID, Name, Image string
	Labels                map[string]string
	State                 string
	// Health is healthy, unhealthy or starting; "" without a healthcheck.
	Health string
	// Restarts is the engine's restart count, as of the container's last
	// start (0 until the sampler inspected it).
	Restarts int
}

// Sample is one running container's figures in a round.
type Sample struct {
	Container
	// Reading holds the cumulative counters (CPU time, I/O bytes).
	Reading Reading
	// Usage holds the `docker stats` figures since the previous round.
	Usage Usage
	// Rates is the I/O per second since the previous round.
	Rates Rates
}

// Round is what one sampling round saw.
type Round struct {
	// Time is the round's slot, a multiple of the cadence.
	Time time.Time
	// Samples has one entry per running container read twice in a row
	// (CPU is a difference, so a container's first round has none).
	Samples []Sample
	// HostMemory is each engine's memory in bytes, when known.
	HostMemory map[string]uint64
}

// Recorder keeps rounds (the stats history does).
type Recorder interface {
	Record(ctx context.Context, r Round) error
}

// Sampler reads every running container of every engine once per cadence,
// whether or not anyone watches, for the history and /metrics. It shares
// the collector's inventory and its ways of reading: the cgroup files for
// a local engine and, for the others, the engine's one-shot stats (one
// reading, no waiting for a second) with the CPU difference taken against
// the previous round, at most Concurrency requests at a time per engine.
type Sampler struct {
	c    *Collector
	opts SamplerOptions
	// slots has a token per engine request in flight, Total at most.
	slots chan struct{}

	// targets is owned by Run's goroutine, one map per host so hosts are
	// sampled in parallel.
	targets map[string]map[string]*target

	mu      sync.Mutex
	hostMem map[string]uint64 // engines' memory, asked once each
	known   []Container
	latest  []Sample
}

// target is the sampler's state for one running container.
type target struct {
	id       string
	started  time.Time // the start target was inspected for; zero: not yet
	cgroup   *cgroupTarget
	fs       fileSet
	restarts int
	prev     Reading
	has      bool
}

// NewSampler builds a sampler over c's inventory; c must be running.
func (c *Collector) NewSampler(opts SamplerOptions) (*Sampler, error) {
	if opts.Every == 0 {
		opts.Every = DefaultSampleEvery
	}
	if opts.Every < MinInterval {
		return nil, fmt.Errorf("stats: sampling every %v is below %v", opts.Every, MinInterval)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultSampleConcurrency
	}
	if opts.Total <= 0 {
		opts.Total = DefaultSampleTotal
	}
	return &Sampler{c: c, opts: opts, slots: make(chan struct{}, opts.Total),
		targets: map[string]map[string]*target{}, hostMem: map[string]uint64{}}, nil
}

// Run samples a round at every slot and hands it to rec, until ctx ends.
// A round that overruns its slot makes the sampler skip to the next free
// one rather than fall behind.
func (s *Sampler) Run(ctx context.Context, rec Recorder) error {
	defer s.closeTargets()
	for {
		slot := time.Now().Truncate(s.opts.Every).Add(s.opts.Every)
		t := time.NewTimer(time.Until(slot))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		r := s.Round(ctx, slot)
		if err := rec.Record(ctx, r); err != nil && ctx.Err() == nil {
			s.c.log.Error("stats: recording a sampling round", "err", err)
		}
	}
}

// Round samples every running container once, for slot. Run calls it at
// every slot; tests and benchmarks call it directly.
func (s *Sampler) Round(ctx context.Context, slot time.Time) Round {
	rctx, cancel := context.WithTimeout(ctx, s.opts.Every)
	defer cancel()
	hosts, known := s.c.snapshot()
	r := Round{Time: slot, HostMemory: map[string]uint64{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range hosts {
		if s.targets[h.name] == nil {
			s.targets[h.name] = map[string]*target{}
		}
		targets := s.targets[h.name]
		retarget(targets, h.running)
		wg.Go(func() {
			samples := s.sampleHost(rctx, h.name, h.running, targets)
			mem := s.hostMemory(rctx, h.name)
			mu.Lock()
			r.Samples = append(r.Samples, samples...)
			if mem > 0 {
				r.HostMemory[h.name] = mem
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.SortFunc(r.Samples, func(a, b Sample) int {
		if a.Host != b.Host {
			return strings.Compare(a.Host, b.Host)
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i := range known {
		if t := s.targets[known[i].Host][known[i].ID]; t != nil {
			known[i].Restarts = t.restarts
		}
	}
	s.mu.Lock()
	s.known, s.latest = known, r.Samples
	s.mu.Unlock()
	return r
}

// Snapshot returns every container the inventory knows and the samples of
// the last round, for /metrics. The slices are not modified afterwards.
func (s *Sampler) Snapshot() ([]Container, []Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.known, s.latest
}

// retarget keeps the targets of the running containers and drops the
// others, closing their files.
func retarget(targets map[string]*target, running []Container) {
	keep := make(map[string]bool, len(running))
	for _, ct := range running {
		keep[ct.ID] = true
		if targets[ct.ID] == nil {
			targets[ct.ID] = &target{id: ct.ID}
		}
	}
	for id, t := range targets {
		if !keep[id] {
			t.fs.close()
			delete(targets, id)
		}
	}
}

// sampleHost reads one engine's running containers, Concurrency at a time
// and within the sampler's Total.
func (s *Sampler) sampleHost(ctx context.Context, host string, running []Container, targets map[string]*target) []Sample {
	cli, err := s.c.eng.Client(host)
	if err != nil {
		s.c.log.Error("stats: sampler: no client for host", "host", host, "err", err)
		return nil
	}
	wall, _ := s.c.busyTimeOnly(host) // once a round: an unknown engine is asked again next round
	sem := make(chan struct{}, s.opts.Concurrency)
	out := make([]*Sample, len(running))
	var wg sync.WaitGroup
	for i, ct := range running {
		t := targets[ct.ID]
		sem <- struct{}{}
		// Taken before the goroutine starts, so a round over many
		// engines runs Total goroutines at most, not Concurrency each.
		if !s.acquire(ctx) {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			defer s.release()
			out[i] = s.sample(ctx, cli, host, wall, ct, t)
		})
	}
	wg.Wait()
	samples := make([]Sample, 0, len(out))
	for _, smp := range out {
		if smp != nil {
			samples = append(samples, *smp)
		}
	}
	return samples
}

// acquire takes one of the Total slots for an engine request, false when
// ctx ended first.
func (s *Sampler) acquire(ctx context.Context) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Sampler) release() { <-s.slots }

// closeTargets closes every target's files.
func (s *Sampler) closeTargets() {
	for _, targets := range s.targets {
		retarget(targets, nil)
	}
}

// hostInfo is a copy of one engine's inventory for a round.
type hostInfo struct {
	name    string
	running []Container
}

// snapshot copies the inventory: the running containers of each reachable
// engine, and every container known.
func (c *Collector) snapshot() ([]hostInfo, []Container) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var hosts []hostInfo
	var known []Container
	for _, name := range c.order {
		h := c.hosts[name]
		hi := hostInfo{name: name}
		for _, ct := range h.containers {
			k := Container{Host: name, ID: ct.ID, Name: ct.Name, Image: ct.Image,
				Labels: maps.Clone(ct.Labels), State: ct.State, Health: ct.Health}
			known = append(known, k)
			if ct.State == "running" {
				hi.running = append(hi.running, k)
			}
		}
		if h.err == nil && h.listed {
			hosts = append(hosts, hi)
		}
	}
	return hosts, known
}

// startedOf is the inventory's start time of a container (zero if unknown).
func (c *Collector) startedOf(host, id string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.hosts[host]; ok {
		if ct, ok := h.containers[id]; ok {
			return ct.StartedAt
		}
	}
	return time.Time{}
}
