package main

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// writeJSON answers with v as JSON and the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// writeError answers {"message": msg} with the given status.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, wire.Message{Message: msg})
}
