// Package stats collects container resource usage for /docker/stats and the
// containers API: one source per container shared by every subscriber,
// reading either the engine's stats stream or the container's cgroup files,
// with the CPU and memory figures computed the way `docker stats` does.
//
// The collector keeps an inventory of every engine's containers (a listing,
// corrected by events), starts a container's source when someone watches
// it while it runs, and stops it when the container dies or nobody watched
// it for a grace period. Subscribers asking for the same interval share a
// group that builds each interval's frames once and fans them out through a
// bounded hub, so a slow client is dropped instead of delaying the others.
package stats

import (
	"context"
	"errors"
	"fmt"
	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Defaults of Options.
const (
	DefaultInterval = 2 * time.Second
	MinInterval     = time.Second
	DefaultGrace    = 10 * time.Second
	DefaultResync   = 5 * time.Minute
	DefaultQueue    = 8
)

// Engines is what the collector needs of the configured engines
// (docker.Engines provides it).
type Engines interface {
	// Client returns the API client of the named engine.
	Client(name string) (*client.Client, error)
	// Hosts lists the configured engines in order.
	Hosts() []wire.Host
}

// Options configure a Collector; zero values take the defaults.
type Options struct {
	// Source is SourceAuto (cgroup files when the container's cgroup is
	// readable, else the engine), SourceEngine or SourceCgroup.
	Source string
	// CgroupRoot is where the cgroup tree is mounted (/sys/fs/cgroup);
	// ProcRoot is the host's proc (/proc), for system CPU time, host memory
	// and the containers' network counters.
	CgroupRoot, ProcRoot string
	// Grace is how long a source outlives its last watcher.
	Grace time.Duration
	// Resync is the period (jittered by a fifth) of the full listings that
	// correct missed events; the events themselves keep the inventory
	// current between them.
	Resync time.Duration
	// Queue is how many intervals of frames a subscriber may fall behind
	// before it is dropped.
	Queue int
	// Logger; nil means slog.Default.
	Logger *slog.Logger
}

// Collector owns the inventory, the sources and the subscriber groups.
type Collector struct {
	opts    Options
	eng     Engines
	log     *slog.Logger
	hostMem uint64
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	hosts   map[string]*hostInventory
	order   []string // host names in configured order
	sources map[key]*source
	last    map[key]Usage // latest sample of containers whose source stopped
	groups  map[time.Duration]*group

	streamsOpened atomic.Uint64
	streamsOpen   atomic.Int64
	cgroupReads   atomic.Uint64
	frames        atomic.Uint64
}

// New builds a collector over eng; Run starts it.
func New(eng Engines, opts Options) (*Collector, error) {
	src, err := ParseSource(opts.Source)
	if err != nil {
		return nil, err
	}
	opts.Source = src
	if opts.CgroupRoot == "" {
		opts.CgroupRoot = "/sys/fs/cgroup"
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Resync <= 0 {
		opts.Resync = DefaultResync
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Collector{
		opts:    opts,
		eng:     eng,
		log:     opts.Logger,
		hosts:   map[string]*hostInventory{},
		sources: map[key]*source{},
		last:    map[key]Usage{},
		groups:  map[time.Duration]*group{},
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	// Host memory is the limit of unlimited containers for the cgroup
	// source; without it (no /proc) only the engine source can serve.
	if mem, err := hostMemory(opts.ProcRoot); err == nil {
		c.hostMem = mem
	} else if opts.Source == SourceCgroup {
		return nil, fmt.Errorf("stats: cgroup source: %w", err)
	} else {
		c.log.Debug("stats: no host memory figure; cgroup source disabled", "err", err)
	}
	for _, h := range eng.Hosts() {
		c.hosts[h.Name] = &hostInventory{name: h.Name, containers: map[string]*containerInfo{}, kick: make(chan struct{}, 1)}
		c.order = append(c.order, h.Name)
	}
	return c, nil
}

// Run lists every engine's containers and keeps the inventory and the
// sources going until ctx ends; it then stops everything and returns once
// every goroutine has.
func (c *Collector) Run(ctx context.Context) error {
	c.mu.Lock()
	for _, name := range c.order {
		h := c.hosts[name]
		c.wg.Go(func() { c.runInventory(c.ctx, h) })
	}
	c.mu.Unlock()
	t := time.NewTicker(min(c.opts.Grace/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.shutdown()
			return nil
		case now := <-t.C:
			c.reap(now)
		}
	}
}

// shutdown stops sources and groups and waits for their goroutines.
func (c *Collector) shutdown() {
	c.cancel()
	c.mu.Lock()
	for _, g := range c.groups {
		g.hub.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// reap stops the sources nobody watched for the grace period.
func (c *Collector) reap(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, s := range c.sources {
		if s.idle(now.Add(-c.opts.Grace)) {
			c.log.Debug("stats: source idle; stopping", "host", k.host, "container", short(k.id))
			c.stopSourceLocked(k, false)
		}
	}
}

// ensureSourceLocked returns the container's source, starting it if needed,
// and records that someone wants samples every d. c.mu is held.
func (c *Collector) ensureSourceLocked(k key, d time.Duration, now time.Time) *source {
	s, ok := c.sources[k]
	if !ok {
		if c.ctx.Err() != nil {
			return nil
		}
		ctx, cancel := context.WithCancel(c.ctx)
		s = newSource(k, cancel)
		c.sources[k] = s
		c.wg.Go(func() {
			defer close(s.done)
			c.runSource(ctx, s)
		})
	}
	s.touch(d, now)
	return s
}

// stopSourceLocked ends the container's source, keeping its latest sample
// for the containers API unless the container is gone. c.mu is held.
func (c *Collector) stopSourceLocked(k key, gone bool) {
	if s, ok := c.sources[k]; ok {
		s.stop()
		delete(c.sources, k)
		if u, has := s.latest(); has && !gone {
			c.last[k] = u
		}
	}
	if gone {
		delete(c.last, k)
	}
}

// runSource picks the source kind for the container and runs it.
func (c *Collector) runSource(ctx context.Context, s *source) {
	cli, err := c.eng.Client(s.key.host)
	if err != nil {
		c.log.Error("stats: no client for host", "host", s.key.host, "err", err)
		return
	}
	b := backoff.Backoff{Min: time.Second, Max: 30 * time.Second}
	for {
		target, err := c.prepare(ctx, s, cli)
		if err == nil {
			if target == nil {
				s.setKind(SourceEngine)
				c.runEngine(ctx, s, cli)
			} else {
				s.setKind(SourceCgroup)
				c.runCgroup(ctx, s, *target)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("stats: cannot start collecting", "host", s.key.host, "container", short(s.key.id), "err", err)
		if !b.Wait(ctx) {
			return
		}
	}
}

// prepare inspects the container (its start time for the status text, its
// pid for the cgroup source) and decides the source: nil means the engine.
func (c *Collector) prepare(ctx context.Context, s *source, cli *client.Client) (*cgroupTarget, error) {
	in, err := c.inspectTarget(ctx, cli, s.key)
	return in.cgroup, err
}

// inspected is what inspecting a running container tells a sampler.
type inspected struct {
	cgroup   *cgroupTarget // nil: read the engine's stats
	started  time.Time
	restarts int
}

// inspectTarget inspects a running container, records its start time in
// the inventory, and locates its cgroup when the options allow that source
// and the cgroup is readable (a local engine).
func (c *Collector) inspectTarget(ctx context.Context, cli *client.Client, k key) (inspected, error) {
	ictx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	res, err := cli.ContainerInspect(ictx, k.id, client.ContainerInspectOptions{})
	if err != nil {
		return inspected{}, fmt.Errorf("inspecting: %w", err)
	}
	info := res.Container
	out := inspected{restarts: info.RestartCount}
	pid := 0
	if info.State != nil {
		pid = info.State.Pid
		out.started = parseTime(info.State.StartedAt)
		c.mu.Lock()
		if h, ok := c.hosts[k.host]; ok {
			if ct, ok := h.containers[k.id]; ok && ct.State == "running" && !out.started.IsZero() {
				ct.StartedAt = out.started
			}
		}
		c.mu.Unlock()
	}
	if c.opts.Source == SourceEngine || c.hostMem == 0 {
		return out, nil
	}
	files, err := locateCgroup(c.opts.CgroupRoot, c.opts.ProcRoot, k.id, pid)
	if err != nil {
		if c.opts.Source == SourceCgroup {
			return out, err
		}
		c.log.Debug("stats: cgroup not readable; using the engine", "host", k.host, "container", short(k.id), "err", err)
		return out, nil
	}
	hostNet := info.HostConfig != nil && info.HostConfig.NetworkMode == "host"
	out.cgroup = &cgroupTarget{files: files, pid: pid, hostNet: hostNet}
	return out, nil
}

// Counters reports the collector's activity, for metrics and tests.
type Counters struct {
	// EngineStreamsOpened counts stats requests made to engines, ever.
	EngineStreamsOpened uint64
	// EngineStreamsOpen is the number of engine stats streams open now.
	EngineStreamsOpen int64
	// CgroupReads counts readings of cgroup files.
	CgroupReads uint64
	// Sources is the number of containers being collected now.
	Sources int
	// Frames counts the stats frames built for subscribers (once per
	// container per interval group, whatever the number of subscribers).
	Frames uint64
}

// Counters returns the current counters.
func (c *Collector) Counters() Counters {
	c.mu.Lock()
	n := len(c.sources)
	c.mu.Unlock()
	return Counters{
		EngineStreamsOpened: c.streamsOpened.Load(),
		EngineStreamsOpen:   c.streamsOpen.Load(),
		CgroupReads:         c.cgroupReads.Load(),
		Sources:             n,
		Frames:              c.frames.Load(),
	}
}

// SourceKind reports which source collects the container now: SourceEngine,
// SourceCgroup, or "" when none runs (or it is still starting).
func (c *Collector) SourceKind(host, id string) string {
	c.mu.Lock()
	s, ok := c.sources[key{host, id}]
	c.mu.Unlock()
	if !ok {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kind
}

// parseTime reads the engine's RFC 3339 times; the zero value stands for
// "never" (the engine's "0001-01-01T00:00:00Z").
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t.UTC()
}

// short is the 12-character ID form used in logs.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ErrNotFound is returned for a container no engine knows.
var ErrNotFound = errors.New("no such container")
