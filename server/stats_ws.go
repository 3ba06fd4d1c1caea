package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/server/stream"
)

// statsEndpoint labels the /docker/stats socket in metrics.
const statsEndpoint = "docker_stats"

// statsFeedQueue is the collector's queue on the event feed: it only
// updates a map per event, so it falls behind only under a huge burst, and
// then a full listing repairs what it missed.
const statsFeedQueue = 4096

// maxStatsInterval bounds the interval a client may ask for; beyond it a
// client is better served by polling /api/v1/containers.
const maxStatsInterval = time.Hour

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

// handleStatsWS serves DockStat's "Docker Stats socket": a greeting, then a
// frame per running container per interval, from every engine, and an
// error frame per interval for each engine that cannot be reached.
func (s *Server) handleStatsWS(w http.ResponseWriter, r *http.Request) {
	q, err := parseStatsQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.stats == nil {
		writeError(w, http.StatusServiceUnavailable, "stats are not being collected")
		return
	}
	watch, err := s.stats.Subscribe(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	defer watch.Close()
	var frames [][]byte
	stream.Socket(s.streams, w, r, stream.Spec[*stats.Batch]{
		Endpoint: statsEndpoint,
		Source:   watch,
		Out:      s.statsMetrics.samples,
		Resume:   func() string { return "; reconnect" },
		Start: func(_ context.Context, send func([]byte) error) error {
			if err := send(greeting); err != nil {
				return err
			}
			frames = watch.Select(watch.Initial(), frames[:0])
			for _, f := range frames {
				if err := send(f); err != nil {
					return err
				}
			}
			return nil
		},
		Frames: func(b *stats.Batch, dst [][]byte) ([][]byte, error) { return watch.Select(b, dst), nil },
	})
}

// parseStatsQuery reads host, container and interval. The interval is a
// Go duration ("2s", "1m") or a number of seconds ("5", "1.5").
func parseStatsQuery(r *http.Request) (stats.Query, error) {
	v := r.URL.Query()
	q := stats.Query{Host: v.Get("host"), Container: v.Get("container"), Interval: stats.DefaultInterval}
	if raw := strings.TrimSpace(v.Get("interval")); raw != "" {
		d, err := parseInterval(raw)
		if err != nil {
			return q, err
		}
		q.Interval = d
	}
	return q, nil
}

func parseInterval(raw string) (time.Duration, error) {
	d, err := time.ParseDuration(raw)
	if err != nil {
		secs, perr := strconv.ParseFloat(raw, 64)
		if perr != nil {
			return 0, fmt.Errorf("interval %q: want a duration such as 2s or a number of seconds", raw)
		}
		if secs != secs || secs > maxStatsInterval.Seconds() { // NaN or huge
			return 0, fmt.Errorf("interval %q: at most %v", raw, maxStatsInterval)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < stats.MinInterval {
		return 0, fmt.Errorf("interval %q: at least %v", raw, stats.MinInterval)
	}
	if d > maxStatsInterval {
		return 0, fmt.Errorf("interval %q: at most %v", raw, maxStatsInterval)
	}
	return d, nil
}
