package stats

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupV2 reads a container's directory in a unified (v2) tree.
type cgroupV2 struct{ dir string }

// locateV2 finds the container's directory; it must have the memory
// controller enabled, or the figures would be missing.
func locateV2(root, id, fromProc string) (cgroupReader, error) {
	dir, ok := firstDir(root, "memory.current", candidates(id, fromProc))
	if !ok {
		return nil, fmt.Errorf("cgroup v2 under %s for %.12s: %w", root, id, errNoCgroup)
	}
	return &cgroupV2{dir: dir}, nil
}

func (c *cgroupV2) String() string { return c.dir }

func (c *cgroupV2) read(fs *fileSet, r *Reading) error {
	cpu, err := readKeyed(fs, filepath.Join(c.dir, "cpu.stat"), "usage_usec")
	if err != nil {
		return fmt.Errorf("cgroup v2 cpu.stat: %w", err)
	}
	r.CPU = cpu["usage_usec"] * 1000
	if r.Memory, err = readUint(fs, filepath.Join(c.dir, "memory.current")); err != nil {
		return fmt.Errorf("cgroup v2 memory: %w", err)
	}
	st, err := readKeyed(fs, filepath.Join(c.dir, "memory.stat"), "inactive_file")
	if err != nil {
		return fmt.Errorf("cgroup v2 memory.stat: %w", err)
	}
	r.InactiveFile = st["inactive_file"]
	if r.MemoryLimit, err = memoryMax(fs, filepath.Join(c.dir, "memory.max")); err != nil {
		return err
	}
	if r.BlockRead, r.BlockWrite, err = ioStat(fs, filepath.Join(c.dir, "io.stat")); err != nil {
		return err
	}
	if r.PIDs, err = readUint(fs, filepath.Join(c.dir, "pids.current")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cgroup v2 pids: %w", err)
	}
	return nil
}

// memoryMax reads memory.max: a number, or "max" for no limit (0).
func memoryMax(fs *fileSet, path string) (uint64, error) {
	data, err := fs.read(path)
	if err != nil {
		return 0, fmt.Errorf("cgroup v2 memory limit: %w", err)
	}
	s := string(bytes.TrimSpace(data))
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroup v2 memory limit %s: %w", path, err)
	}
	return v, nil
}

// ioStat sums rbytes and wbytes of every device line
// ("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0"). The file is
// absent without the io controller, which then means no figures.
func ioStat(fs *fileSet, path string) (read, write uint64, err error) {
	data, err := fs.read(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("cgroup v2 io.stat: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || (k != "rbytes" && k != "wbytes") {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("cgroup v2 io.stat %s: %w", path, err)
			}
			if k == "rbytes" {
				read += n
			} else {
				write += n
			}
		}
	}
	return read, write, nil
}
