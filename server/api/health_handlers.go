package api

import (
	"net/http"

	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// handleHealth answers 200 while the server runs. Engines being down does not
// make crowsnest unhealthy: the store, the UI and the API still work.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	respond.JSON(w, http.StatusOK, map[string]any{"status": "ok", "enginesUp": s.engines.Up()})
}
