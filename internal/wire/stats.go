package wire

import "time"

// Stats is one frame of the DockStat "Docker Stats socket" (/docker/stats):
// the spec's fields first, with its names and types, then the extra figures
// the spec allows ("more fields may follow"). CPUUsage and MemoryUsage are
// percentages as `docker stats` prints them: 0.17 means 0.17 %, and CPU
// counts one full core as 100.
type Stats struct {
	ID          string  `json:"id"`
	HostID      string  `json:"hostId"`
	Name        string  `json:"name"`
	Image       string  `json:"image"`
	Status      string  `json:"status"`
	State       string  `json:"state"`
	CPUUsage    float64 `json:"cpuUsage"`
	MemoryUsage float64 `json:"memoryUsage"`

	// MemoryBytes is the usage without the inactive page cache, the figure
	// MemoryUsage is a share of; MemoryLimit is the container's limit, or
	// the host's memory when it has none.
	MemoryBytes uint64 `json:"memoryBytes"`
	MemoryLimit uint64 `json:"memoryLimit"`
	// NetRx and NetTx are bytes received and sent since the container
	// started, over all its interfaces but loopback.
	NetRx uint64 `json:"netRx"`
	NetTx uint64 `json:"netTx"`
	// BlockRead and BlockWrite are bytes read from and written to block
	// devices since the container started.
	BlockRead  uint64 `json:"blockRead"`
	BlockWrite uint64 `json:"blockWrite"`
	// PIDs is the number of processes and threads in the container.
	PIDs uint64 `json:"pids"`
	// Timestamp is when the sample was read.
	Timestamp time.Time `json:"timestamp"`
}

// StatsError is the /docker/stats frame telling that one engine cannot be
// reached; the frames of the other engines keep coming.
type StatsError struct {
	HostID string `json:"hostId"`
	Error  string `json:"error"`
}

// ContainerSummary is one entry of GET /api/v1/containers: the container as
// the engine lists it, with its latest stats sample when one was taken.
type ContainerSummary struct {
	ID      string            `json:"id"`
	Host    string            `json:"host"`
	Name    string            `json:"name"`
	Image   string            `json:"image"`
	State   string            `json:"state"`
	Status  string            `json:"status"`
	Created time.Time         `json:"created"`
	Labels  map[string]string `json:"labels,omitempty"`
	Stats   *Stats            `json:"stats,omitempty"`
}

// ContainerDetail is GET /api/v1/containers/{id}: the parts of the
// engine's inspect answer a UI shows, plus the latest stats sample.
type ContainerDetail struct {
	ContainerSummary
	Command      []string          `json:"command,omitempty"`
	ExitCode     int               `json:"exitCode"`
	StartedAt    time.Time         `json:"startedAt"`
	FinishedAt   time.Time         `json:"finishedAt"`
	RestartCount int               `json:"restartCount"`
	Health       string            `json:"health,omitempty"`
	Pid          int               `json:"pid,omitempty"`
	TTY          bool              `json:"tty"`
	MemoryLimit  int64             `json:"memoryLimit,omitempty"`
	NanoCPUs     int64             `json:"nanoCpus,omitempty"`
	NetworkMode  string            `json:"networkMode,omitempty"`
	Networks     map[string]string `json:"networks,omitempty"` // network name → IP address
	Mounts       []Mount           `json:"mounts,omitempty"`
}

// Mount is one mount of a container.
type Mount struct {
	Type        string `json:"type"`
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly"`
}
