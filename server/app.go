package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowsnest-hq/crowsnest/internal/alerts"
	"github.com/crowsnest-hq/crowsnest/internal/containermetrics"
	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/feed"
	"github.com/crowsnest-hq/crowsnest/internal/history"
	"github.com/crowsnest-hq/crowsnest/internal/lease"
	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/stacks"
	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/api"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// run starts crowsnest and serves until ctx ends. It is the whole wiring:
// every part is built here in dependency order (configuration, logging,
// auth, the store, the engines, the event feed, stacks, stats, the stats
// history, alerts, the HTTP surface), started, and stopped in reverse
// order by the defers as run returns.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, logRing, err := newLogger(cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	authn, err := auth.New(cfg.authOptions(), log)
	if err != nil {
		return err
	}
	if err := cfg.checkExposure(authn.Configured()); err != nil {
		return err
	}
	tlsCfg, err := serverTLS(cfg)
	if err != nil {
		return err
	}
	b, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	st := b.store
	defer st.Close()
	authn.UseSessions(b.sessions)

	metrics := api.NewMetrics()
	engines, err := docker.New(docker.Options{
		Hosts:   withLocalhost(cfg.Hosts),
		Logger:  log,
		Journal: countedJournal{docker.StoreJournal(st), metrics.EngineEventsStored},
	})
	if err != nil {
		return fmt.Errorf("engines: %w", err)
	}
	defer engines.Close()
	containerLogs := logs.NewStreams(logs.Options{Logger: log})
	defer containerLogs.Close()
	p := parts{cfg: cfg, log: log, store: st, stacks: b.stacks, alertRules: b.alertRules, leases: b.leases, engines: engines, feed: feed.New(log), metrics: metrics, containerLogs: containerLogs}
	// The engines and the feed write to the store and log: they must have
	// ended before it closes and before run returns, also when serving
	// fails while the caller's ctx goes on.
	ctx, cancel := context.WithCancel(ctx)
	var background sync.WaitGroup
	defer func() {
		cancel()
		background.Wait()
	}()
	background.Go(func() {
		if err := engines.Run(ctx); err != nil {
			log.Error("engines stopped", "err", err)
		}
	})
	background.Go(func() { p.feed.Run(ctx, st) })
	stackManager, stopStacks, err := startStacks(ctx, p)
	if err != nil {
		return err
	}
	defer stopStacks() // before st.Close: running actions end and their messages are stored
	collector, stopStats, err := startStats(ctx, p)
	if err != nil {
		return err
	}
	defer stopStats() // the collector ends before the engines' clients close
	hist, stopHistory, err := startHistory(ctx, p, collector)
	if err != nil {
		return err
	}
	defer stopHistory() // the sampler ends before the collector it reads
	rules, stopAlerts, err := startAlerts(ctx, p, collector)
	if err != nil {
		return err
	}
	defer stopAlerts() // before st.Close: deliveries record their outcome

	o := cfg.apiOptions()
	o.Logger, o.Store, o.Engines, o.Feed, o.Auth, o.Metrics = log, st, engines, p.feed, authn, metrics
	o.ContainerLogs, o.Logs = containerLogs, logRing
	o.Stacks, o.Stats, o.History, o.Alerts = stackManager, collector, hist, rules
	h, err := api.New(o).Handler()
	if err != nil {
		return err
	}
	return serveHTTP(ctx, cfg, h, log, tlsCfg)
}

// parts are what run has built before the parts that follow the engines'
// events are started.
type parts struct {
	cfg           Config
	log           *slog.Logger
	store         store.Store
	stacks        store.Stacks
	alertRules    store.AlertRules
	leases        *lease.Leases // shares stack actions and alerts between replicas; nil for one crowsnest
	engines       *docker.Engines
	feed          *feed.Feed
	metrics       *api.Metrics
	containerLogs *logs.Streams
}

// withLocalhost puts the local engine first unless a host already has its name.
func withLocalhost(hosts []docker.HostConfig) []docker.HostConfig {
	for _, h := range hosts {
		if h.Name == docker.DefaultHostName {
			return hosts
		}
	}
	return append([]docker.HostConfig{docker.DefaultHost()}, hosts...)
}

// countedJournal counts the engine events stored, for /metrics.
type countedJournal struct {
	docker.Journal
	stored func(n int)
}

func (j countedJournal) Store(ctx context.Context, events []wire.ContainerEvent) error {
	if err := j.Journal.Store(ctx, events); err != nil {
		return err
	}
	j.stored(len(events))
	return nil
}

// stacksFeedQueue is the stack manager's queue on the event feed: it only
// updates status per event, so it falls behind only under a huge burst.
const stacksFeedQueue = 1 << 16

// startStacks starts the manager over the stack records (which resolves
// stacks an earlier run left mid-action) and feeds it the container events
// so stack status follows the engines. The returned stop must run before
// the store closes: it waits for running actions to end and their messages
// to be stored.
func startStacks(ctx context.Context, p parts) (m *stacks.Manager, stop func(), err error) {
	m, err = stacks.New(stacks.Options{
		Records:     p.stacks,
		Events:      p.store,
		Engines:     p.engines,
		DataDir:     p.cfg.DataDir,
		DefaultHost: docker.DefaultHostName,
		Leases:      p.leases,
		// Files a compose file reads while loading; bind mounts are not.
		AllowHostPaths: p.cfg.StacksAllowHostPaths,
		Logger:         p.log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the stack manager: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx) })
	// After a gap the manager's periodic full read covers what was missed.
	wg.Go(func() {
		p.feed.FollowContainers(ctx, stacksFeedQueue, m.Observe, func(err error) {
			p.log.Warn("stack status fell behind container events; resubscribing", "err", err)
		})
	})
	return m, func() {
		cancel()
		wg.Wait()
		if err := m.Close(); err != nil {
			p.log.Error("closing stacks", "err", err)
		}
	}, nil
}

// statsFeedQueue is the collector's queue on the event feed: it only
// updates a map per event, so it falls behind only under a huge burst, and
// then a full listing repairs what it missed.
const statsFeedQueue = 4096

// startStats builds the stats collector over the engines, registers its
// metrics, and runs it with the container events of the feed until ctx
// ends, so its inventory follows starts and deaths as they happen (after
// a gap it has every engine listed anew). The returned stop ends the
// collector and waits for it: it must not depend on ctx ending, or a
// start-up step failing after this one would wait for ever.
func startStats(ctx context.Context, p parts) (col *stats.Collector, stop func(), err error) {
	col, err = stats.New(p.engines, stats.Options{
		Source:     p.cfg.StatsSource,
		CgroupRoot: p.cfg.CgroupRoot,
		ProcRoot:   p.cfg.ProcRoot,
		Logger:     p.log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the stats collector: %w", err)
	}
	p.metrics.Register(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crowsnest_stats_engine_streams", Help: "Engine stats streams open now (one per container collected by the engine source).",
		}, func() float64 { return float64(col.Counters().EngineStreamsOpen) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "crowsnest_stats_engine_requests_total", Help: "Stats requests made to engines (a stream opened or reopened).",
		}, func() float64 { return float64(col.Counters().EngineStreamsOpened) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "crowsnest_stats_cgroup_reads_total", Help: "Readings of container cgroup files by the cgroup source.",
		}, func() float64 { return float64(col.Counters().CgroupReads) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crowsnest_stats_sources", Help: "Containers whose stats are being collected now.",
		}, func() float64 { return float64(col.Counters().Sources) }),
	)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := col.Run(ctx); err != nil {
			p.log.Error("stats collector stopped", "err", err)
		}
	})
	wg.Go(func() {
		p.feed.FollowContainers(ctx, statsFeedQueue, col.HandleEvent, func(err error) {
			p.log.Warn("stats lost events of the feed; listing containers again", "err", err)
			col.Resync()
		})
	})
	return col, func() {
		cancel()
		wg.Wait()
	}, nil
}

// historyFeedQueue is the container events queued for the exporter's event
// counter before its subscription is dropped and resumed.
const historyFeedQueue = 1024

// startHistory opens the stats history (DATA/history.db), starts the
// sampler over the stats collector (startStats must have run) and
// registers the container metrics on /metrics. stop ends the sampler and
// closes the file.
func startHistory(ctx context.Context, p parts, col *stats.Collector) (hist *history.Store, stop func(), err error) {
	hist, err = history.Open(filepath.Join(p.cfg.DataDir, "history.db"), history.Options{
		Tiers:  history.DefaultTiers(p.cfg.StatsEvery, p.cfg.StatsRetention),
		Logger: p.log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("stats history (--stats-every %v, --stats-retention %v): %w", p.cfg.StatsEvery, p.cfg.StatsRetention, err)
	}
	smp, err := col.NewSampler(stats.SamplerOptions{Every: p.cfg.StatsEvery})
	if err != nil {
		_ = hist.Close() // the sampler's error is the one to report
		return nil, nil, err
	}
	exp := containermetrics.New(smp)
	p.metrics.Register(exp)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := smp.Run(ctx, hist); err != nil {
			p.log.Error("stats sampler stopped", "err", err)
		}
	})
	wg.Go(func() {
		p.feed.FollowContainers(ctx, historyFeedQueue, exp.ObserveEvent, func(err error) {
			p.log.Warn("container metrics lost events of the feed", "err", err)
		})
	})
	return hist, func() {
		cancel()
		wg.Wait()
		if err := hist.Close(); err != nil {
			p.log.Error("closing the stats history", "err", err)
		}
	}, nil
}

// startAlerts runs the alert rules over the stored container events, the
// containers' output (alertLogs) and the stats collector's samples, so it
// must come after startStats. The returned stop must run before the store
// closes: it waits for Run to end, and deliveries record their outcome in
// the store.
func startAlerts(ctx context.Context, p parts, col *stats.Collector) (a *alerts.Alerts, stop func(), err error) {
	a, err = alerts.New(ctx, alerts.Options{
		Rules:      p.alertRules,
		Events:     p.store,
		Containers: col,
		Logs:       alertLogs{engines: p.engines, streams: p.containerLogs},
		Leases:     p.leases,
		Logger:     p.log,
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil {
			p.log.Error("alerts stopped", "err", err)
		}
	}()
	return a, func() {
		cancel()
		<-done
	}, nil
}
