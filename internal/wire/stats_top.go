package wire

import "time"

// StatsTop answers GET /api/v1/stats/top: the containers that used the
// most over a range, from the stats history.
type StatsTop struct {
	// From and To are the range asked for.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// CPU is ranked by mean CPU, Memory by mean memory bytes, highest
	// first; never null.
	CPU    []StatsTopEntry `json:"cpu"`
	Memory []StatsTopEntry `json:"memory"`
}

// StatsTopEntry is one container's means over the range: over the steps
// it has points for, so a container that ran for part of the range is
// ranked by what it used while it ran.
type StatsTopEntry struct {
	Host  string `json:"host"`
	ID    string `json:"id"`
	Name  string `json:"name"`
	Image string `json:"image"`
	// CPU is in percent (one core 100), Memory a percentage of the limit.
	CPU         float64 `json:"cpu"`
	Memory      float64 `json:"memory"`
	MemoryBytes uint64  `json:"memoryBytes"`
}
