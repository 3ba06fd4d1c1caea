package main

import "net/http"

// handleHosts lists the configured engines with their state and versions.
func (s *Server) handleHosts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.engines.Hosts())
}
