package wire

import "time"

// Host states reported by GET /api/v1/hosts.
const (
	HostConnecting  = "connecting"
	HostConnected   = "connected"
	HostUnreachable = "unreachable"
)

// Host is one configured Docker engine and its current state.
type Host struct {
	Name       string    `json:"name"`
	URL        string    `json:"url"`
	State      string    `json:"state"`
	Error      string    `json:"error,omitempty"`
	Version    string    `json:"version,omitempty"`
	APIVersion string    `json:"apiVersion,omitempty"`
	Since      time.Time `json:"since"`
}
