package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/crowsnest-hq/crowsnest/internal/containermetrics"
	"github.com/crowsnest-hq/crowsnest/internal/history"
	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// historyFeedQueue is the container events queued for the exporter's event
// counter before its subscription is dropped and resumed.
const historyFeedQueue = 1024

// startHistory opens the stats history (DATA/history.db), starts the
// sampler over the stats collector (startStats must have run) and
// registers the container metrics on /metrics. stop ends the sampler and
// closes the file.
func (s *Server) startHistory(ctx context.Context) (stop func(), err error) {
	hist, err := history.Open(filepath.Join(s.cfg.DataDir, "history.db"), history.Options{
		Tiers:  history.DefaultTiers(s.cfg.StatsEvery, s.cfg.StatsRetention),
		Logger: s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("stats history (--stats-every %v, --stats-retention %v): %w", s.cfg.StatsEvery, s.cfg.StatsRetention, err)
	}
	smp, err := s.stats.NewSampler(stats.SamplerOptions{Every: s.cfg.StatsEvery})
	if err != nil {
		_ = hist.Close() // the sampler's error is the one to report
		return nil, err
	}
	exp := containermetrics.New(smp)
	s.metrics.registry.MustRegister(exp)
	s.history = hist
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := smp.Run(ctx, hist); err != nil {
			s.log.Error("stats sampler stopped", "err", err)
		}
	})
	wg.Go(func() {
		s.feed.FollowContainers(ctx, historyFeedQueue, exp.ObserveEvent, func(err error) {
			s.log.Warn("container metrics lost events of the feed", "err", err)
		})
	})
	return func() {
		cancel()
		wg.Wait()
		if err := hist.Close(); err != nil {
			s.log.Error("closing the stats history", "err", err)
		}
	}, nil
}

// handleContainerHistory answers a container's stats history over a range:
// {id} is an ID, ID prefix or name, removed containers included while
// their history is kept.
func (s *Server) handleContainerHistory(w http.ResponseWriter, r *http.Request) {
	rng, ok := s.historyRange(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	h, err := s.history.QueryContainer(r.Context(), q.Get("host"), r.PathValue("id"), rng)
	s.writeHistory(w, h, err)
}

// handleHostHistory answers an engine's stats history: per step, the sums
// over its containers.
func (s *Server) handleHostHistory(w http.ResponseWriter, r *http.Request) {
	rng, ok := s.historyRange(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if !s.knownHost(name) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no engine named %q", name))
		return
	}
	h, err := s.history.QueryHost(r.Context(), name, rng)
	s.writeHistory(w, h, err)
}

// historyRange reads range, from and to; when the history is off or the
// range is bad it has answered (503, 400) and reports false.
func (s *Server) historyRange(w http.ResponseWriter, r *http.Request) (history.Range, bool) {
	if s.history == nil {
		writeError(w, http.StatusServiceUnavailable, "the stats history is not being kept")
		return history.Range{}, false
	}
	q := r.URL.Query()
	rng, err := s.history.ParseRange(q.Get("range"), q.Get("from"), q.Get("to"))
	if err != nil {
		writeHistoryError(w, err)
		return history.Range{}, false
	}
	return rng, true
}

// knownHost reports whether an engine of that name is configured.
func (s *Server) knownHost(name string) bool {
	for _, h := range s.engines.Hosts() {
		if h.Name == name {
			return true
		}
	}
	return false
}

// writeHistory answers a query's result or its error.
func (s *Server) writeHistory(w http.ResponseWriter, h wire.StatsHistory, err error) {
	if err != nil {
		writeHistoryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// writeHistoryError maps the history's errors to statuses: a bad range and
// an ambiguous name are the caller's (400), an unknown container 404.
func writeHistoryError(w http.ResponseWriter, err error) {
	var re *history.RangeError
	switch {
	case errors.As(err, &re):
		writeError(w, http.StatusBadRequest, re.Reason)
	case errors.Is(err, history.ErrAmbiguous):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, history.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// Bounds of ?n= of /api/v1/stats/top.
const (
	defaultTopN = 5
	maxTopN     = 50
)

// handleStatsTop ranks the containers the engines list (running or not)
// by their mean CPU and memory over a range of the history.
func (s *Server) handleStatsTop(w http.ResponseWriter, r *http.Request) {
	rng, ok := s.historyRange(w, r)
	if !ok {
		return
	}
	n := defaultTopN
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > maxTopN {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("n: want a number from 1 to %d", maxTopN))
			return
		}
	}
	if s.stats == nil {
		writeError(w, http.StatusServiceUnavailable, "containers are not being tracked")
		return
	}
	var entries []wire.StatsTopEntry
	for _, c := range s.stats.Containers(r.Context(), true, 0) {
		h, err := s.history.QueryContainer(r.Context(), c.Host, c.ID, rng)
		if errors.Is(err, history.ErrNotFound) {
			continue // listed, but never sampled running
		}
		if err != nil {
			writeHistoryError(w, err)
			return
		}
		if len(h.Points) > 0 {
			entries = append(entries, topEntry(h))
		}
	}
	writeJSON(w, http.StatusOK, wire.StatsTop{From: rng.From.UTC(), To: rng.To.UTC(),
		CPU:    topBy(entries, n, func(e wire.StatsTopEntry) float64 { return e.CPU }),
		Memory: topBy(entries, n, func(e wire.StatsTopEntry) float64 { return float64(e.MemoryBytes) }),
	})
}

// topEntry is a history's means.
func topEntry(h wire.StatsHistory) wire.StatsTopEntry {
	e := wire.StatsTopEntry{Host: h.Host, ID: h.ID, Name: h.Name, Image: h.Image}
	var mem float64
	for _, p := range h.Points {
		e.CPU += p.CPU
		e.Memory += p.Memory
		mem += float64(p.MemoryBytes)
	}
	k := float64(len(h.Points))
	e.CPU, e.Memory, e.MemoryBytes = e.CPU/k, e.Memory/k, uint64(mem/k)
	return e
}

// topBy is the n entries with the highest key, highest first.
func topBy(entries []wire.StatsTopEntry, n int, key func(wire.StatsTopEntry) float64) []wire.StatsTopEntry {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b wire.StatsTopEntry) int { return cmp.Compare(key(b), key(a)) })
	return append([]wire.StatsTopEntry{}, sorted[:min(n, len(sorted))]...)
}
