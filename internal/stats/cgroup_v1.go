package stats

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupV1 reads a container's files in a v1 tree, where each controller
// has its own hierarchy. Block I/O and pids are optional: a kernel may lack
// the controller, and their absence should not cost the CPU and memory
// figures.
type cgroupV1 struct {
	cpuacct, memory, blkio, pids string
}

// locateV1 finds the container's directory in each controller's hierarchy.
// A controller may be mounted alone or co-mounted ("cpu,cpuacct").
func locateV1(root, id string, fromProc map[string]string) (cgroupReader, error) {
	find := func(ctrl, file string, mounts ...string) string {
		for _, m := range mounts {
			if dir, ok := firstDir(filepath.Join(root, m), file, candidates(id, fromProc[ctrl])); ok {
				return dir
			}
		}
		return ""
	}
	c := &cgroupV1{
		cpuacct: find("cpuacct", "cpuacct.usage", "cpuacct", "cpu,cpuacct", "cpuacct,cpu"),
		memory:  find("memory", "memory.usage_in_bytes", "memory"),
		blkio:   find("blkio", "blkio.throttle.io_service_bytes", "blkio"),
		pids:    find("pids", "pids.current", "pids"),
	}
	if c.blkio == "" {
		c.blkio = find("blkio", "blkio.throttle.io_service_bytes_recursive", "blkio")
	}
	if c.cpuacct == "" || c.memory == "" {
		return nil, fmt.Errorf("cgroup v1 under %s for %.12s: %w", root, id, errNoCgroup)
	}
	return c, nil
}

func (c *cgroupV1) String() string { return c.memory }

func (c *cgroupV1) read(fs *fileSet, r *Reading) error {
	var err error
	if r.CPU, err = readUint(fs, filepath.Join(c.cpuacct, "cpuacct.usage")); err != nil {
		return fmt.Errorf("cgroup v1 cpu: %w", err)
	}
	if r.Memory, err = readUint(fs, filepath.Join(c.memory, "memory.usage_in_bytes")); err != nil {
		return fmt.Errorf("cgroup v1 memory: %w", err)
	}
	// Hierarchical figures (total_*) include child cgroups, as the engine
	// reports them.
	st, err := readKeyed(fs, filepath.Join(c.memory, "memory.stat"), "total_inactive_file")
	if err != nil {
		return fmt.Errorf("cgroup v1 memory.stat: %w", err)
	}
	r.InactiveFile = st["total_inactive_file"]
	if r.MemoryLimit, err = readUint(fs, filepath.Join(c.memory, "memory.limit_in_bytes")); err != nil {
		return fmt.Errorf("cgroup v1 memory limit: %w", err)
	}
	if c.blkio != "" {
		if r.BlockRead, r.BlockWrite, err = blkioV1(fs, c.blkio); err != nil {
			return err
		}
	}
	if c.pids != "" {
		if r.PIDs, err = readUint(fs, filepath.Join(c.pids, "pids.current")); err != nil {
			return fmt.Errorf("cgroup v1 pids: %w", err)
		}
	}
	return nil
}

// blkioV1 sums the Read and Write lines ("8:0 Read 4096") of every device.
// The recursive file includes child cgroups; older kernels only have the
// plain one.
func blkioV1(fs *fileSet, dir string) (read, write uint64, err error) {
	path := filepath.Join(dir, "blkio.throttle.io_service_bytes_recursive")
	data, err := fs.read(path)
	if errors.Is(err, os.ErrNotExist) {
		path = filepath.Join(dir, "blkio.throttle.io_service_bytes")
		data, err = fs.read(path)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("cgroup v1 blkio: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			continue // the "Total N" line
		}
		v, err := strconv.ParseUint(fields[2], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("cgroup v1 blkio %s: %w", path, err)
		}
		switch strings.ToLower(fields[1]) {
		case "read":
			read += v
		case "write":
			write += v
		}
	}
	return read, write, nil
}
