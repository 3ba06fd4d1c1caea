package wire

// Health is the body of /healthz: 200 with Status "ok" while crowsnest can
// store events, 503 with Status "unavailable" and Message saying why when
// its event store cannot (a NATS store whose servers do not answer, reads
// still coming from the replica's local view; a full disk). Engines being
// down never makes crowsnest unavailable.
type Health struct {
	Status    string      `json:"status"`
	Message   string      `json:"message,omitempty"`
	EnginesUp int         `json:"enginesUp"`
	Store     StoreHealth `json:"store"`
}

// StoreHealth is the event store's part of Health.
type StoreHealth struct {
	Backend string `json:"backend"` // "bbolt" or "nats"
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// Values of Health.Status.
const (
	HealthOK          = "ok"
	HealthUnavailable = "unavailable"
)
