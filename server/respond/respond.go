// Package respond writes the JSON answers every part of the HTTP surface
// shares: a value, or the {"message": …} error of the API contract.
package respond

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// JSON answers with v as JSON and the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// Error answers {"message": msg} with the given status.
func Error(w http.ResponseWriter, status int, msg string) {
	JSON(w, status, wire.Message{Message: msg})
}
