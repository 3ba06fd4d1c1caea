package api

import (
	"net/http"

	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// handleHosts lists the configured engines with their state and versions.
func (s *Server) handleHosts(w http.ResponseWriter, r *http.Request) {
	respond.JSON(w, http.StatusOK, s.engines.Hosts())
}
