package stats

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// userHZ is the unit of /proc/stat: the kernel reports clock ticks of
// 1/100 s to user space whatever its internal HZ.
const userHZ = 100

// systemCPU reads the host's CPU time in nanoseconds and the number of
// online CPUs from proc's stat file. Like the engine, it sums user, nice,
// system, idle, iowait, irq and softirq of the "cpu" line (steal and guest
// are left out), so both sources divide by the same figure.
func systemCPU(fs *fileSet, procRoot string) (ns uint64, cpus uint32, err error) {
	data, err := fs.read(filepath.Join(procRoot, "stat"))
	if err != nil {
		return 0, 0, fmt.Errorf("system CPU time: %w", err)
	}
	found := false
	for line := range bytes.Lines(data) {
		if !bytes.HasPrefix(line, []byte("cpu")) {
			break // the cpu lines come first
		}
		if len(line) > 3 && line[3] != ' ' {
			cpus++ // "cpu0", "cpu1"…: one per online CPU
			continue
		}
		fields := bytes.Fields(line)
		if len(fields) < 8 {
			return 0, 0, fmt.Errorf("system CPU time: short cpu line %q", line)
		}
		var ticks uint64
		for _, f := range fields[1:8] {
			v, err := strconv.ParseUint(string(f), 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("system CPU time: %w", err)
			}
			ticks += v
		}
		ns, found = ticks*(1e9/userHZ), true
	}
	if !found {
		return 0, 0, fmt.Errorf("system CPU time: no cpu line in %s", filepath.Join(procRoot, "stat"))
	}
	return ns, cpus, nil
}

// hostMemory reads MemTotal, the limit of containers that have none, as the
// engine reports it.
func hostMemory(procRoot string) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, "meminfo"))
	if err != nil {
		return 0, fmt.Errorf("host memory: %w", err)
	}
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte("MemTotal:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("host memory: %w", err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("host memory: no MemTotal in %s", filepath.Join(procRoot, "meminfo"))
}

// netDev sums the bytes received and sent over every interface but
// loopback of the network namespace pid lives in, as the engine does (it
// reports the container's interfaces, and lo is not one of them).
func netDev(fs *fileSet, procRoot string, pid int) (rx, tx uint64, err error) {
	path := filepath.Join(procRoot, strconv.Itoa(pid), "net", "dev")
	data, err := fs.read(path)
	if err != nil {
		return 0, 0, fmt.Errorf("network counters: %w", err)
	}
	for line := range bytes.Lines(data) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue // the two header lines
		}
		if string(bytes.TrimSpace(name)) == "lo" {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) < 9 {
			return 0, 0, fmt.Errorf("network counters: short line in %s", path)
		}
		r, err1 := strconv.ParseUint(string(fields[0]), 10, 64)
		t, err2 := strconv.ParseUint(string(fields[8]), 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("network counters: bad number in %s", path)
		}
		rx += r
		tx += t
	}
	return rx, tx, nil
}
