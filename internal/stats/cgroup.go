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

// errNoCgroup says a container's cgroup directory was not found or cannot
// be read: the engine is remote, or crowsnest cannot see the host's tree.
var errNoCgroup = errors.New("container cgroup not found")

// cgroupReader reads one container's counters straight from its cgroup
// files, through fs: CPU, Memory, InactiveFile, MemoryLimit (0 when unlimited),
// BlockRead, BlockWrite and PIDs of r.
type cgroupReader interface {
	read(fs *fileSet, r *Reading) error
	// String names the directory read, for logs.
	String() string
}

// locateCgroup finds the cgroup of container id (its main process pid,
// when known, is used to ask the kernel where it lives) under root, the
// mount point of the cgroup tree (/sys/fs/cgroup). A unified (v2) tree has
// cgroup.controllers at its root; anything else is read as v1, one
// directory per controller, which also covers the hybrid layout where a
// controller-less v2 tree sits at root/unified.
func locateCgroup(root, procRoot, id string, pid int) (cgroupReader, error) {
	paths := procCgroupPaths(procRoot, id, pid)
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return locateV2(root, id, paths[""])
	}
	return locateV1(root, id, paths)
}

// candidates are the places a container's cgroup may be, relative to a
// hierarchy's root: where the kernel says (from /proc/<pid>/cgroup), then
// the engine's layout with the cgroupfs driver, then with systemd.
func candidates(id, fromProc string) []string {
	var out []string
	if fromProc != "" {
		out = append(out, fromProc)
	}
	return append(out, "docker/"+id, "system.slice/docker-"+id+".scope")
}

// procCgroupPaths maps each hierarchy's controllers ("" for the unified
// one) to the path of pid's cgroup, as /proc/<pid>/cgroup lists them. Only
// paths naming the container are kept: on a remote engine pid belongs to
// some other process of this host, or to none.
func procCgroupPaths(procRoot, id string, pid int) map[string]string {
	out := map[string]string{}
	if pid <= 0 {
		return out
	}
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return out // not our host's process, or no host /proc: fall back to the usual layouts
	}
	for line := range strings.Lines(string(data)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || !strings.Contains(parts[2], id) {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// firstDir returns the first candidate directory under base holding file.
func firstDir(base, file string, rels []string) (string, bool) {
	for _, rel := range rels {
		dir := filepath.Join(base, rel)
		if f, err := os.Open(filepath.Join(dir, file)); err == nil {
			_ = f.Close() // only probing readability
			return dir, true
		}
	}
	return "", false
}

// readUint reads a file holding one number.
func readUint(fs *fileSet, path string) (uint64, error) {
	data, err := fs.read(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readKeyed returns the values of the wanted keys of a flat-keyed file
// ("key value" lines, like memory.stat and cpu.stat); keys absent from the
// file stay absent from the map.
func readKeyed(fs *fileSet, path string, keys ...string) (map[string]uint64, error) {
	data, err := fs.read(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(keys))
	for line := range bytes.Lines(data) {
		k, v, ok := bytes.Cut(line, []byte(" "))
		if !ok || !contains(keys, string(k)) {
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		out[string(k)] = n
		if len(out) == len(keys) {
			break
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
