package main

import (
	"errors"
	"net/http"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/stats"
)

// containersStatsWait bounds how long listing containers waits for the
// first samples of containers nobody watched yet: about one engine stats
// frame, so a cold list still carries figures.
const containersStatsWait = 2500 * time.Millisecond

// handleContainers lists the containers of every engine with their latest
// stats: running ones, or all with ?all=1.
func (s *Server) handleContainers(w http.ResponseWriter, r *http.Request) {
	if s.stats == nil {
		writeError(w, http.StatusServiceUnavailable, "containers are not being tracked")
		return
	}
	all := false
	switch v := r.URL.Query().Get("all"); v {
	case "", "0", "false":
	case "1", "true":
		all = true
	default:
		writeError(w, http.StatusBadRequest, "all: want 1, true, 0 or false")
		return
	}
	list := s.stats.Containers(r.Context(), all, containersStatsWait)
	if list == nil {
		writeJSON(w, http.StatusOK, []struct{}{}) // [] rather than null
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// handleContainer answers the inspect summary of one container, named by
// ID, ID prefix or name, on ?host= or the engine that has it.
func (s *Server) handleContainer(w http.ResponseWriter, r *http.Request) {
	if s.stats == nil {
		writeError(w, http.StatusServiceUnavailable, "containers are not being tracked")
		return
	}
	host := r.URL.Query().Get("host")
	if host != "" {
		if _, err := s.engines.Client(host); err != nil {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
	}
	d, err := s.stats.Inspect(r.Context(), host, r.PathValue("id"))
	switch {
	case errors.Is(err, stats.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, d)
	}
}
