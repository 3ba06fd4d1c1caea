package stats

import (
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Reading is one raw reading of a container's cumulative counters, from
// either source. Usage is computed from two readings, as `docker stats`
// does, because CPU time is a counter: only its growth over an interval
// means anything.
type Reading struct {
	Time time.Time
	// CPU is the container's CPU time in nanoseconds since it started.
	CPU uint64
	// System is the host's CPU time in nanoseconds, all CPUs together,
	// read at the same moment (the engine's "system_cpu_usage").
	System uint64
	// OnlineCPUs is the number of CPUs System covers.
	OnlineCPUs uint32
	// Memory is the cgroup's charged memory, page cache included;
	// InactiveFile is the part of that cache the kernel reclaims first,
	// which `docker stats` leaves out.
	Memory       uint64
	InactiveFile uint64
	// MemoryLimit is the container's limit, or the host's memory.
	MemoryLimit uint64
	NetRx       uint64
	NetTx       uint64
	BlockRead   uint64
	BlockWrite  uint64
	PIDs        uint64
}

// Usage is what a sample reports: the percentages and figures of a Stats
// frame without the container's identity.
type Usage struct {
	CPUPercent    float64
	MemoryPercent float64
	MemoryBytes   uint64
	MemoryLimit   uint64
	NetRx         uint64
	NetTx         uint64
	BlockRead     uint64
	BlockWrite    uint64
	PIDs          uint64
	Time          time.Time
}

// CPUPercent is docker's formula: the container's share of the host's CPU
// time over the interval, scaled so one busy core is 100 %. Counters that
// went backwards (a restarted container) or did not move give 0.
func CPUPercent(prev, cur Reading) float64 {
	if cur.CPU <= prev.CPU || cur.System <= prev.System {
		return 0
	}
	cpus := cur.OnlineCPUs
	if cpus == 0 {
		cpus = prev.OnlineCPUs
	}
	if cpus == 0 {
		return 0
	}
	return float64(cur.CPU-prev.CPU) / float64(cur.System-prev.System) * float64(cpus) * 100
}

// MemoryUsed is the usage docker shows: charged memory minus the inactive
// page cache, which the kernel drops before it would ever OOM the
// container, so counting it would make idle file readers look full.
func MemoryUsed(r Reading) uint64 {
	if r.InactiveFile < r.Memory {
		return r.Memory - r.InactiveFile
	}
	return r.Memory
}

// MemoryPercent is MemoryUsed over the limit, in percent.
func MemoryPercent(r Reading) float64 {
	if r.MemoryLimit == 0 {
		return 0
	}
	return float64(MemoryUsed(r)) / float64(r.MemoryLimit) * 100
}

// Compute turns two consecutive readings into a sample.
func Compute(prev, cur Reading) Usage {
	return Usage{
		CPUPercent:    CPUPercent(prev, cur),
		MemoryPercent: MemoryPercent(cur),
		MemoryBytes:   MemoryUsed(cur),
		MemoryLimit:   cur.MemoryLimit,
		NetRx:         cur.NetRx,
		NetTx:         cur.NetTx,
		BlockRead:     cur.BlockRead,
		BlockWrite:    cur.BlockWrite,
		PIDs:          cur.PIDs,
		Time:          cur.Time,
	}
}

// fill copies u into a frame.
func (u Usage) fill(s *wire.Stats) {
	s.CPUUsage = u.CPUPercent
	s.MemoryUsage = u.MemoryPercent
	s.MemoryBytes = u.MemoryBytes
	s.MemoryLimit = u.MemoryLimit
	s.NetRx, s.NetTx = u.NetRx, u.NetTx
	s.BlockRead, s.BlockWrite = u.BlockRead, u.BlockWrite
	s.PIDs = u.PIDs
	s.Timestamp = u.Time.UTC()
}

// Rates are the growth of a container's I/O counters per second between
// two readings.
type Rates struct {
	NetRx, NetTx, BlockRead, BlockWrite float64
}

// ComputeRates is the growth per second of each counter from prev to cur;
// a counter that went backwards (the container restarted) counts as 0.
func ComputeRates(prev, cur Reading) Rates {
	secs := cur.Time.Sub(prev.Time).Seconds()
	if secs <= 0 {
		return Rates{}
	}
	rate := func(a, b uint64) float64 {
		if b < a {
			return 0
		}
		return float64(b-a) / secs
	}
	return Rates{
		NetRx:      rate(prev.NetRx, cur.NetRx),
		NetTx:      rate(prev.NetTx, cur.NetTx),
		BlockRead:  rate(prev.BlockRead, cur.BlockRead),
		BlockWrite: rate(prev.BlockWrite, cur.BlockWrite),
	}
}
