package stats

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

// referenceReading is a reading built from the engine's full StatsResponse,
// field by field, as crowsnest read frames before engineFrame.
func referenceReading(cpu container.CPUStats, f container.StatsResponse) Reading {
	r := Reading{Time: f.Read, CPU: cpu.CPUUsage.TotalUsage, System: cpu.SystemUsage, OnlineCPUs: cpu.OnlineCPUs,
		Memory: f.MemoryStats.Usage, MemoryLimit: f.MemoryStats.Limit, PIDs: f.PidsStats.Current}
	if r.OnlineCPUs == 0 {
		r.OnlineCPUs = uint32(len(cpu.CPUUsage.PercpuUsage))
	}
	if v, ok := f.MemoryStats.Stats["total_inactive_file"]; ok {
		r.InactiveFile = v
	} else {
		r.InactiveFile = f.MemoryStats.Stats["inactive_file"]
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

// engineFrames are a Docker frame on cgroup v1 as the engine sent it, and
// the same frame in cgroup v2's shape (no total_* memory counters, no
// per-CPU list), with block I/O added.
func engineFrames(t testing.TB) map[string][]byte {
	t.Helper()
	v1, err := os.ReadFile("testdata/engine-frame-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(v1, &m); err != nil {
		t.Fatal(err)
	}
	mem := m["memory_stats"].(map[string]any)["stats"].(map[string]any)
	for k := range mem {
		if strings.HasPrefix(k, "total_") {
			delete(mem, k)
		}
	}
	mem["inactive_file"] = 4096
	delete(m["cpu_stats"].(map[string]any)["cpu_usage"].(map[string]any), "percpu_usage")
	m["blkio_stats"].(map[string]any)["io_service_bytes_recursive"] = []map[string]any{
		{"major": 8, "minor": 0, "op": "read", "value": 1000}, {"major": 8, "minor": 0, "op": "Write", "value": 77},
	}
	v2, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"cgroup v1": bytes.TrimSpace(v1), "cgroup v2": v2}
}

// TestEngineFrameReadsWhatTheFullResponseDoes checks that the few fields
// decoded give the same readings, current and previous, as the engine's
// whole answer.
func TestEngineFrameReadsWhatTheFullResponseDoes(t *testing.T) {
	for name, data := range engineFrames(t) {
		t.Run(name, func(t *testing.T) {
			var full container.StatsResponse
			var f engineFrame
			if err := json.Unmarshal(data, &full); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatal(err)
			}
			if got, want := engineReading(f.CPUStats, &f, false), referenceReading(full.CPUStats, full); got != want {
				t.Errorf("reading:\n got %+v\nwant %+v", got, want)
			}
			if got, want := engineReading(f.PreCPUStats, &f, false), referenceReading(full.PreCPUStats, full); got != want {
				t.Errorf("previous reading:\n got %+v\nwant %+v", got, want)
			}
			if !f.PreRead.Equal(full.PreRead) {
				t.Errorf("preread %v, want %v", f.PreRead, full.PreRead)
			}
		})
	}
}

// BenchmarkStatsFrameDecode decodes one engine stats frame into the
// engine's full StatsResponse (what crowsnest did) and into engineFrame.
func BenchmarkStatsFrameDecode(b *testing.B) {
	data := engineFrames(b)["cgroup v1"]
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f container.StatsResponse
			if err := json.NewDecoder(bytes.NewReader(data)).Decode(&f); err != nil {
				b.Fatal(err)
			}
			_ = referenceReading(f.CPUStats, f)
		}
	})
	b.Run("fields", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f engineFrame
			if err := json.NewDecoder(bytes.NewReader(data)).Decode(&f); err != nil {
				b.Fatal(err)
			}
			_ = engineReading(f.CPUStats, &f, false)
		}
	})
}

// TestFrameReader checks that frames are split at their newlines, long
// ones included, and that a last frame without its newline still counts.
func TestFrameReader(t *testing.T) {
	long := `{"pad":"` + strings.Repeat("x", 40<<10) + `"}`
	stream := `{"a":1}` + "\n\n" + long + "\n" + `{"b":2}` + "\n" + long + "\n" + `{"c":3}`
	fr := newFrameReader(strings.NewReader(stream))
	for i, want := range []string{`{"a":1}`, long, `{"b":2}`, long, `{"c":3}`} {
		got, err := fr.next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(bytes.TrimSpace(got)) != want {
			t.Fatalf("frame %d: got %.40q…, want %.40q…", i, got, want)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}
