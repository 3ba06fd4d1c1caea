package api

import (
	"net/http"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// handleHealth answers 200 while crowsnest can store events. Engines being
// down does not make crowsnest unhealthy: the store, the UI and the API
// still work. An event store that cannot take writes (NATS not answering,
// a full disk) does: 503 says why, so a proxy in front of replicas sends
// writes to another one.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := wire.Health{Status: wire.HealthOK, EnginesUp: s.engines.Up(), Store: wire.StoreHealth{Backend: "bbolt", OK: true}}
	if _, ok := s.store.(store.ViewHolder); ok {
		h.Store.Backend = "nats"
	}
	if hr, ok := s.store.(store.HealthReporter); ok {
		if err := hr.Health(); err != nil {
			h.Status, h.Store.OK, h.Store.Error = wire.HealthUnavailable, false, err.Error()
			h.Message = err.Error()
			respond.JSON(w, http.StatusServiceUnavailable, h)
			return
		}
	}
	respond.JSON(w, http.StatusOK, h)
}
