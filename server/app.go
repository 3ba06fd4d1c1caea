package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/stacks"
	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// run starts crowsnest and serves until ctx ends. It is the whole wiring:
// every part is built here in dependency order (configuration, logging,
// auth, the store, the engines, the event feed, stacks, stats, the HTTP
// surface), started, and stopped in reverse order by the defers as run
// returns.
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
	auth, err := newAuthenticator(cfg, log)
	if err != nil {
		return err
	}
	if err := cfg.checkExposure(auth.configured()); err != nil {
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
	auth.sessions = b.sessions

	var srv *Server
	engines, err := docker.New(docker.Options{
		Hosts:   withLocalhost(cfg.Hosts),
		Logger:  log,
		Journal: countedJournal{docker.StoreJournal(st), func(n int) { srv.metrics.eventsIn.WithLabelValues("engine").Add(float64(n)) }},
	})
	if err != nil {
		return fmt.Errorf("engines: %w", err)
	}
	defer engines.Close()
	srv = newServer(cfg, log, st, engines, auth)
	srv.logs = logRing
	srv.leases = b.leases
	defer srv.containerLogs.Close()
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
	background.Go(func() { srv.feed.Run(ctx, st) })
	stopStacks, err := srv.startStacks(ctx)
	if err != nil {
		return err
	}
	defer stopStacks() // before st.Close: running actions end and their messages are stored
	stopStats, err := srv.startStats(ctx)
	if err != nil {
		return err
	}
	defer stopStats() // the collector ends before the engines' clients close
	stopHistory, err := srv.startHistory(ctx)
	if err != nil {
		return err
	}
	defer stopHistory() // the sampler ends before the collector it reads
	stopAlerts, err := srv.startAlerts(ctx)
	if err != nil {
		return err
	}
	defer stopAlerts() // before st.Close: deliveries record their outcome
	h, err := srv.handler()
	if err != nil {
		return err
	}
	return serveHTTP(ctx, cfg, h, log, tlsCfg)
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

// statsFeedQueue is the collector's queue on the event feed: it only
// updates a map per event, so it falls behind only under a huge burst, and
// then a full listing repairs what it missed.
const statsFeedQueue = 4096

// statsMetrics are the collector's figures on /metrics.
type statsMetrics struct {
	samples prometheus.Counter
}

// startStats builds the stats collector over the engines, registers its
// metrics, and runs it with the container events of the feed until ctx
// ends. Call it before serving; the returned function waits, once ctx has
// ended, until the collector has stopped.
func (s *Server) startStats(ctx context.Context) (wait func(), err error) {
	col, err := stats.New(s.engines, stats.Options{
		Source:     s.cfg.StatsSource,
		CgroupRoot: s.cfg.CgroupRoot,
		ProcRoot:   s.cfg.ProcRoot,
		Logger:     s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	s.stats = col
	s.statsMetrics = &statsMetrics{samples: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crowsnest_stats_samples_sent_total", Help: "Stats frames written to /docker/stats clients.",
	})}
	s.metrics.registry.MustRegister(s.statsMetrics.samples,
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
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := col.Run(ctx); err != nil {
			s.log.Error("stats collector stopped", "err", err)
		}
	})
	wg.Go(func() { s.feedStats(ctx) })
	return wg.Wait, nil
}

// feedStats passes every stored container event to the collector, so its
// inventory follows starts and deaths as they happen; after a gap it has
// every engine listed anew.
func (s *Server) feedStats(ctx context.Context) {
	s.feed.FollowContainers(ctx, statsFeedQueue, s.stats.HandleEvent, func(err error) {
		s.log.Warn("stats lost events of the feed; listing containers again", "err", err)
		s.stats.Resync()
	})
}

// stacksFeedQueue is the stack manager's queue on the event feed: it only
// updates status per event, so it falls behind only under a huge burst.
const stacksFeedQueue = 1 << 16

// startStacks opens the stack records, starts the manager (which resolves
// stacks an earlier run left mid-action) and feeds it the container events
// so stack status follows the engines. The returned stop must run before
// the store closes: it waits for running actions to end and their messages
// to be stored.
func (s *Server) startStacks(ctx context.Context) (stop func(), err error) {
	recs, err := store.NewStacks(s.store)
	if err != nil {
		return nil, fmt.Errorf("stack records: %w", err)
	}
	m, err := stacks.New(stacks.Options{
		Records:     recs,
		Events:      s.store,
		Engines:     s.engines,
		DataDir:     s.cfg.DataDir,
		DefaultHost: docker.DefaultHostName,
		Leases:      s.leases,
		Logger:      s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("stacks: %w", err)
	}
	s.stacks = m
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx) })
	wg.Go(func() { s.feedStacks(ctx, m) })
	return func() {
		cancel()
		wg.Wait()
		if err := m.Close(); err != nil {
			s.log.Error("closing stacks", "err", err)
		}
	}, nil
}

// feedStacks hands every container event to the manager. After a gap the
// manager's periodic full read covers what was missed.
func (s *Server) feedStacks(ctx context.Context, m *stacks.Manager) {
	s.feed.FollowContainers(ctx, stacksFeedQueue, m.Observe, func(err error) {
		s.log.Warn("stack status fell behind container events; resubscribing", "err", err)
	})
}
