package stats

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCPUPercentIsDockersFormula(t *testing.T) {
	prev := Reading{CPU: 1e9, System: 100e9, OnlineCPUs: 2}
	cur := Reading{CPU: 2e9, System: 102e9, OnlineCPUs: 2}
	// One second of container CPU over two seconds of host CPU time (one
	// wall second on two CPUs): one core busy, so 100 %.
	if got := CPUPercent(prev, cur); math.Abs(got-100) > 1e-9 {
		t.Errorf("CPUPercent = %v, want 100", got)
	}
	if got := CPUPercent(cur, prev); got != 0 {
		t.Errorf("counters going backwards: %v, want 0", got)
	}
	if got := CPUPercent(prev, Reading{CPU: 2e9, System: 102e9}); got != 100 {
		t.Errorf("without online CPUs in the current reading: %v, want the previous count used", got)
	}
}

func TestMemoryLeavesInactiveFileOut(t *testing.T) {
	r := Reading{Memory: 100 << 20, InactiveFile: 20 << 20, MemoryLimit: 400 << 20}
	if got := MemoryUsed(r); got != 80<<20 {
		t.Errorf("MemoryUsed = %d, want %d", got, 80<<20)
	}
	if got := MemoryPercent(r); got != 20 {
		t.Errorf("MemoryPercent = %v, want 20", got)
	}
	if got := MemoryUsed(Reading{Memory: 10, InactiveFile: 20}); got != 10 {
		t.Errorf("inactive above usage: %d, want the usage", got)
	}
	if got := MemoryPercent(Reading{Memory: 10}); got != 0 {
		t.Errorf("no limit: %v, want 0", got)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                   "Less than a second",
		time.Second:         "1 second",
		42 * time.Second:    "42 seconds",
		90 * time.Second:    "About a minute",
		5 * time.Minute:     "5 minutes",
		61 * time.Minute:    "About an hour",
		2 * time.Hour:       "2 hours",
		3 * 24 * time.Hour:  "3 days",
		21 * 24 * time.Hour: "3 weeks",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestStatusText(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ct := &containerInfo{State: "running", StartedAt: now.Add(-2 * time.Hour), Status: "listing"}
	if got := statusText(ct, now); got != "Up 2 hours" {
		t.Errorf("running: %q", got)
	}
	ct = &containerInfo{State: "exited", ExitCode: 143, FinishedAt: now.Add(-3 * time.Minute)}
	if got := statusText(ct, now); got != "Exited (143) 3 minutes ago" {
		t.Errorf("exited: %q", got)
	}
	ct = &containerInfo{State: "running", Status: "Up 5 seconds"}
	if got := statusText(ct, now); got != "Up 5 seconds" {
		t.Errorf("without a start time the listing's text stays: %q", got)
	}
}

// writeFiles creates files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const fixtureID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestCgroupV2Files(t *testing.T) {
	root := t.TempDir()
	dir := "system.slice/docker-" + fixtureID + ".scope/"
	writeFiles(t, root, map[string]string{
		"cgroup.controllers":   "cpu io memory pids\n",
		dir + "cpu.stat":       "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
		dir + "memory.current": "73400320\n",
		dir + "memory.stat":    "anon 67108864\nfile 6291456\nactive_file 1048576\ninactive_file 5242880\n",
		dir + "memory.max":     "max\n",
		dir + "io.stat":        "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n",
		dir + "pids.current":   "7\n",
	})
	files, err := locateCgroup(root, t.TempDir(), fixtureID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files.(*cgroupV2); !ok {
		t.Fatalf("read as %T, want v2", files)
	}
	var r Reading
	if err := files.read(&fileSet{}, &r); err != nil {
		t.Fatal(err)
	}
	want := Reading{CPU: 1500000000, Memory: 73400320, InactiveFile: 5242880, BlockRead: 4097, BlockWrite: 8194, PIDs: 7}
	if r != want {
		t.Errorf("reading = %+v, want %+v", r, want)
	}
	writeFiles(t, root, map[string]string{dir + "memory.max": "134217728\n"})
	if err := files.read(&fileSet{}, &r); err != nil || r.MemoryLimit != 128<<20 {
		t.Errorf("limit = %d (%v), want %d", r.MemoryLimit, err, 128<<20)
	}
}

func TestCgroupV1Files(t *testing.T) {
	root := t.TempDir()
	rel := "/docker/" + fixtureID + "/"
	writeFiles(t, root, map[string]string{
		"cpu,cpuacct" + rel + "cpuacct.usage":                       "2500000000\n",
		"memory" + rel + "memory.usage_in_bytes":                    "70529024\n",
		"memory" + rel + "memory.stat":                              "cache 1699840\nrss 68091904\ninactive_file 1\ntotal_inactive_file 1695744\n",
		"memory" + rel + "memory.limit_in_bytes":                    "9223372036854771712\n",
		"blkio" + rel + "blkio.throttle.io_service_bytes_recursive": "8:0 Read 100\n8:0 Write 200\n8:0 Sync 300\n8:0 Async 0\n8:0 Total 300\nTotal 300\n",
		"pids" + rel + "pids.current":                               "3\n",
	})
	// The kernel's view of the process, as /proc/<pid>/cgroup shows it.
	proc := t.TempDir()
	writeFiles(t, proc, map[string]string{"42/cgroup": "4:memory:/docker/" + fixtureID + "\n2:cpu,cpuacct:/docker/" + fixtureID + "\n0::/docker/" + fixtureID + "\n"})
	files, err := locateCgroup(root, proc, fixtureID, 42)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files.(*cgroupV1); !ok {
		t.Fatalf("read as %T, want v1", files)
	}
	var r Reading
	if err := files.read(&fileSet{}, &r); err != nil {
		t.Fatal(err)
	}
	want := Reading{CPU: 2500000000, Memory: 70529024, InactiveFile: 1695744, MemoryLimit: 9223372036854771712, BlockRead: 100, BlockWrite: 200, PIDs: 3}
	if r != want {
		t.Errorf("reading = %+v, want %+v", r, want)
	}
	if _, err := locateCgroup(root, proc, "feedface", 0); err == nil {
		t.Error("an unknown container was located")
	}
}

func TestProcFiles(t *testing.T) {
	proc := t.TempDir()
	writeFiles(t, proc, map[string]string{
		"stat":    "cpu  100 0 50 800 10 0 5 7 0 0\ncpu0 50 0 25 400 5 0 3 4 0 0\ncpu1 50 0 25 400 5 0 2 3 0 0\nintr 1 2 3\n",
		"meminfo": "MemTotal:       24684092 kB\nMemFree:         1000 kB\n",
		"9/net/dev": "Inter-|   Receive                                                |  Transmit\n" +
			" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
			"    lo:     500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0\n" +
			"  eth0:     736       8    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n",
	})
	ns, cpus, err := systemCPU(&fileSet{}, proc)
	if err != nil {
		t.Fatal(err)
	}
	// user+nice+system+idle+iowait+irq+softirq = 965 ticks of 10 ms; steal left out.
	if ns != 965*10_000_000 || cpus != 2 {
		t.Errorf("systemCPU = %d ns, %d CPUs; want %d, 2", ns, cpus, 965*10_000_000)
	}
	mem, err := hostMemory(proc)
	if err != nil || mem != 24684092<<10 {
		t.Errorf("hostMemory = %d, %v", mem, err)
	}
	rx, tx, err := netDev(&fileSet{}, proc, 9)
	if err != nil || rx != 736 || tx != 100 {
		t.Errorf("netDev = %d, %d, %v; want 736, 100 (lo left out)", rx, tx, err)
	}
}
