package wire

import "time"

// Host states reported by GET /api/v1/hosts.
const (
	HostConnecting  = "connecting"
	HostConnected   = "connected"
	HostUnreachable = "unreachable"
)

// Engine kinds, as an engine's /version tells them apart.
const (
	EngineDocker = "docker"
	EnginePodman = "podman"
)

// Features a host's notes name: what crowsnest does with an engine.
const (
	FeatureEvents  = "events"
	FeatureStats   = "stats"
	FeatureLogs    = "logs"
	FeatureActions = "actions"
	FeatureStacks  = "stacks"
	FeatureHealth  = "health"
)

// Host is one configured Docker engine and its current state. Engine and
// the notes are known once it connected: Unavailable lists the features
// crowsnest cannot offer on it, Differences those that work but not as on
// Docker, each with the reason.
type Host struct {
	Name        string        `json:"name"`
	URL         string        `json:"url"`
	State       string        `json:"state"`
	Error       string        `json:"error,omitempty"`
	Engine      string        `json:"engine,omitempty"`
	Version     string        `json:"version,omitempty"`
	APIVersion  string        `json:"apiVersion,omitempty"`
	Since       time.Time     `json:"since"`
	Unavailable []FeatureNote `json:"unavailable,omitempty"`
	Differences []FeatureNote `json:"differences,omitempty"`
}

// FeatureNote says why a feature is unavailable on a host, or how it
// differs there.
type FeatureNote struct {
	Feature string `json:"feature"`
	Reason  string `json:"reason"`
}
