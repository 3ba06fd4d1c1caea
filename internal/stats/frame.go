package stats

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"time"
)

// engineFrame is the part of the engine's stats answer a reading uses.
// Decoding into it skips the rest of each frame (memory_stats' thirty-odd
// counters, the other blkio lists, throttling and storage figures, names)
// instead of building it, which is most of what decoding the engine's
// full StatsResponse cost.
type engineFrame struct {
	Read        time.Time `json:"read"`
	PreRead     time.Time `json:"preread"`
	CPUStats    frameCPU  `json:"cpu_stats"`
	PreCPUStats frameCPU  `json:"precpu_stats"`
	MemoryStats struct {
		Usage uint64      `json:"usage"`
		Limit uint64      `json:"limit"`
		Stats frameMemory `json:"stats"`
	} `json:"memory_stats"`
	PidsStats struct {
		Current uint64 `json:"current"`
	} `json:"pids_stats"`
	Networks   map[string]frameNetwork `json:"networks"`
	BlkioStats struct {
		IoServiceBytesRecursive []frameBlkio `json:"io_service_bytes_recursive"`
	} `json:"blkio_stats"`
}

// frameCPU is a frame's cpu_stats (or precpu_stats).
type frameCPU struct {
	CPUUsage struct {
		TotalUsage  uint64   `json:"total_usage"`
		PercpuUsage []uint64 `json:"percpu_usage"`
	} `json:"cpu_usage"`
	SystemUsage uint64 `json:"system_cpu_usage"`
	OnlineCPUs  uint32 `json:"online_cpus"`
}

// frameMemory holds the two memory counters of memory_stats.stats a
// reading uses: cgroup v1 reports the hierarchical figure as
// total_inactive_file, v2 as inactive_file.
type frameMemory struct {
	TotalInactiveFile *uint64 `json:"total_inactive_file"`
	InactiveFile      uint64  `json:"inactive_file"`
}

type frameNetwork struct {
	RxBytes uint64 `json:"rx_bytes"`
	TxBytes uint64 `json:"tx_bytes"`
}

type frameBlkio struct {
	Op    string `json:"op"`
	Value uint64 `json:"value"`
}

// engineReading converts a frame of the engine's stats, with cpu the CPU
// figures to use (the frame's own or its previous ones); with wall, the
// host's CPU time is taken from the frame's time (wallSystem).
func engineReading(cpu frameCPU, f *engineFrame, wall bool) Reading {
	r := Reading{
		Time:         f.Read,
		CPU:          cpu.CPUUsage.TotalUsage,
		System:       cpu.SystemUsage,
		OnlineCPUs:   cpu.OnlineCPUs,
		Memory:       f.MemoryStats.Usage,
		MemoryLimit:  f.MemoryStats.Limit,
		PIDs:         f.PidsStats.Current,
		InactiveFile: f.MemoryStats.Stats.InactiveFile,
	}
	if v := f.MemoryStats.Stats.TotalInactiveFile; v != nil {
		r.InactiveFile = *v
	}
	if r.OnlineCPUs == 0 {
		r.OnlineCPUs = uint32(len(cpu.CPUUsage.PercpuUsage))
	}
	if wall {
		r.System = wallSystem(f.Read, r.OnlineCPUs)
	}
	for _, n := range f.Networks {
		r.NetRx += n.RxBytes
		r.NetTx += n.TxBytes
	}
	for _, e := range f.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			r.BlockRead += e.Value
		case "write":
			r.BlockWrite += e.Value
		}
	}
	return r
}

// frameReader reads the engine's stats stream frame by frame: the engine
// (Docker and Podman alike) ends each JSON frame with a newline, so a
// frame no sample needs is passed over by finding its end, not decoded.
type frameReader struct {
	r    *bufio.Reader
	long []byte // a frame longer than r's buffer, gathered
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// next returns the next frame, valid until the following call. Blank
// lines are no frames.
func (fr *frameReader) next() ([]byte, error) {
	for {
		line, err := fr.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			fr.long = append(fr.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = fr.r.ReadSlice('\n')
				fr.long = append(fr.long, line...)
			}
			line = fr.long
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		// A last frame without its newline is still a frame; the next
		// call reports the end.
		return line, nil
	}
}
