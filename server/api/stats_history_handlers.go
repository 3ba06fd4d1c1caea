package api

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/crowsnest-hq/crowsnest/internal/history"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

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
	s.writeHistory(w, r, h, err)
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
		s.fail(w, r, "reading the stats history", notFound(fmt.Errorf("no engine named %q", name)))
		return
	}
	h, err := s.history.QueryHost(r.Context(), name, rng)
	s.writeHistory(w, r, h, err)
}

// historyRange reads range, from and to; when the history is off or the
// range is bad it has answered (503, 400) and reports false.
func (s *Server) historyRange(w http.ResponseWriter, r *http.Request) (history.Range, bool) {
	if s.history == nil {
		s.fail(w, r, "reading the stats history", unavailable(errors.New("the stats history is not being kept")))
		return history.Range{}, false
	}
	q := r.URL.Query()
	rng, err := s.history.ParseRange(q.Get("range"), q.Get("from"), q.Get("to"))
	if err != nil {
		s.fail(w, r, "reading the stats history", err)
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
func (s *Server) writeHistory(w http.ResponseWriter, r *http.Request, h wire.StatsHistory, err error) {
	if err != nil {
		s.fail(w, r, "reading the stats history", err)
		return
	}
	respond.JSON(w, http.StatusOK, h)
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
			respond.Error(w, http.StatusBadRequest, fmt.Sprintf("n: want a number from 1 to %d", maxTopN))
			return
		}
	}
	if s.stats == nil {
		s.fail(w, r, "ranking containers", errNotTracked)
		return
	}
	var entries []wire.StatsTopEntry
	for _, c := range s.stats.Containers(r.Context(), true, 0) {
		h, err := s.history.QueryContainer(r.Context(), c.Host, c.ID, rng)
		if errors.Is(err, history.ErrNotFound) {
			continue // listed, but never sampled running
		}
		if err != nil {
			s.fail(w, r, "ranking containers", err)
			return
		}
		if len(h.Points) > 0 {
			entries = append(entries, topEntry(h))
		}
	}
	respond.JSON(w, http.StatusOK, wire.StatsTop{From: rng.From.UTC(), To: rng.To.UTC(),
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
