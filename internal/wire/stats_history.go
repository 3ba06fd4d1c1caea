package wire

import "time"

// StatsHistory answers GET /api/v1/containers/{id}/stats and
// GET /api/v1/hosts/{name}/stats: one series of downsampled points.
//
// Points are in time order, one per Resolution step at most. A step with no
// point is a gap: crowsnest was not running, the container was not
// running, or (for a host) none of its containers was. Charts draw a gap
// wherever two consecutive points are more than Resolution apart, rather
// than a line across it.
type StatsHistory struct {
	// Host is the engine; ID, Name and Image the container (empty for a
	// host's aggregate). Name and Image are the last ones seen.
	Host  string `json:"host"`
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Image string `json:"image,omitempty"`
	// From and To are the range asked for.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Resolution is the step between points, in seconds (10, 60 or 600
	// with the default tiers).
	Resolution int64 `json:"resolution"`
	// Points are never null: an empty range is [].
	Points []StatsPoint `json:"points"`
}

// StatsPoint is the mean of the samples of one step. For a host, each
// figure is the sum over its containers (CPU can then exceed 100 per core
// of one container) and Memory is a share of the host's memory.
type StatsPoint struct {
	// T is the start of the step.
	T time.Time `json:"t"`
	// CPU is in percent, one busy core being 100, as `docker stats` shows.
	CPU float64 `json:"cpu"`
	// Memory is MemoryBytes as a percentage of the limit (or host memory).
	Memory float64 `json:"memory"`
	// MemoryBytes is the usage without the inactive page cache.
	MemoryBytes uint64 `json:"memoryBytes"`
	// NetRx, NetTx, BlockRead and BlockWrite are rates in bytes per second
	// (not the cumulative counters of /docker/stats), so a restart, which
	// resets the counters, does not show as a cliff.
	NetRx      float64 `json:"netRx"`
	NetTx      float64 `json:"netTx"`
	BlockRead  float64 `json:"blockRead"`
	BlockWrite float64 `json:"blockWrite"`
}
