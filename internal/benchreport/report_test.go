package main

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// notMet is the "Targets not met" part of a rendered report.
func notMet(t *testing.T, report string) string {
	t.Helper()
	_, after, ok := strings.Cut(report, "## Targets not met\n")
	if !ok {
		t.Fatalf("no Targets not met section in:\n%s", report)
	}
	return after
}

func render(t *testing.T, benchOut string, secs []section) string {
	t.Helper()
	res, err := parse(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	return report{commit: "abc1234", res: res, soak: okSoak}.render(secs)
}

const okSoak = "<!-- soak:begin -->\n## Soak (issue 7)\n<!-- soak:result ok -->\n<!-- soak:end -->"

var testSection = []section{{
	title:  "Test issue",
	rules:  []rule{{bench: "BenchmarkX/clients=2", metric: "ratio", label: "the X ratio", op: ">=", target: 0.8}},
	floors: []string{"Floor of X: a plain loop."},
}}

// Every row with a target and no measured figure (absent, skipped, failed,
// metric missing) must be listed under "not met", with why it has none.
func TestTargetWithoutFigureIsNotMet(t *testing.T) {
	cases := []struct {
		name, out, why string
	}{
		{"absent", "pkg: example\nBenchmarkOther-2 1 5 ns/op\n", "not measured"},
		{"skipped", "pkg: example\n--- SKIP: BenchmarkX/clients=2\n    x_test.go:10: no engine reachable\n", "skipped: no engine reachable"},
		{"failed", "pkg: example\n--- FAIL: BenchmarkX/clients=2\n    x_test.go:10: boom\n", "failed (see bench.out)"},
		{"metric missing", "pkg: example\nBenchmarkX/clients=2-2 1 5 ns/op 3 msgs/s\n", "metric `ratio` not reported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := notMet(t, render(t, c.out, testSection))
			if !strings.Contains(got, "the X ratio") || !strings.Contains(got, c.why) {
				t.Errorf("not met section lacks the row or %q:\n%s", c.why, got)
			}
		})
	}
}

// The same for the real report: with nothing measured, every target of
// every section is listed as not met.
func TestEveryTargetOfTheReportNeedsAFigure(t *testing.T) {
	got := notMet(t, render(t, "", sections))
	for _, s := range sections {
		for _, r := range s.rules {
			if r.op != "" && !strings.Contains(got, "("+r.label+"): no figure") {
				t.Errorf("target %q of %q with no figure is not listed as not met", r.label, s.title)
			}
		}
	}
}

func TestMetAndMissedTargets(t *testing.T) {
	met := render(t, "BenchmarkX/clients=2-2 1 5 ns/op 0.9 ratio\n", testSection)
	if !strings.Contains(met, "| the X ratio | 0.900 | ≥ 0.8 | met |") {
		t.Errorf("met row not shown:\n%s", met)
	}
	if got := notMet(t, met); strings.Contains(got, "the X ratio") {
		t.Errorf("a met target is listed as not met:\n%s", got)
	}
	if !strings.Contains(met, "Floor of X: a plain loop.") {
		t.Errorf("the floor's line is missing:\n%s", met)
	}
	missed := render(t, "BenchmarkX/clients=2-2 1 5 ns/op 0.5 ratio\n", testSection)
	if got := notMet(t, missed); !strings.Contains(got, "(the X ratio): 0.500, target ≥ 0.8.") {
		t.Errorf("a missed target is not listed:\n%s", got)
	}
}

// A benchmark with no rule that was skipped or failed is not met either.
func TestSkippedBenchmarkWithoutRuleIsNotMet(t *testing.T) {
	out := "--- SKIP: BenchmarkStackDeploy\n    s_test.go:1: chromium not found\n"
	got := notMet(t, render(t, out, sections))
	if !strings.Contains(got, "`BenchmarkStackDeploy`): skipped: chromium not found") {
		t.Errorf("skipped benchmark not listed:\n%s", got)
	}
}

// Notes come from the run's figures, not from fixed text.
func TestNotesAreDerivedFromFigures(t *testing.T) {
	out := "BenchmarkEventPost/clients=64-2 1 5 ns/op 6000 events/s 20000 store-events/s 25000 floor-events/s 0.24 ratio\n"
	got := notMet(t, render(t, out, sections))
	want := "HTTP path 6000 events/s, store alone 20000, floor 25000: the store keeps 80% of the floor and the HTTP path 30% of the store, so the HTTP layer (parse, normalise, respond) loses more than the store."
	if !strings.Contains(got, want) {
		t.Errorf("POST note not derived from the figures; want %q in:\n%s", want, got)
	}
	out = "BenchmarkEventPost/clients=64-2 1 5 ns/op 6000 events/s 20000 store-events/s 25000 floor-events/s 0.24 ratio 150 cpu-us/event 40 store-cpu-us/event 30 floor-cpu-us/event\n"
	got = notMet(t, render(t, out, sections))
	want = fmt.Sprintf("CPU per event (the whole process, clients included): HTTP path 150.0 µs, store alone 40.0 µs, floor 30.0 µs; 0.8× the floor's rate at the HTTP path's CPU per event takes 3.0 cores of the %d here.", runtime.NumCPU())
	if !strings.Contains(got, want) {
		t.Errorf("POST note without its CPU figures; want %q in:\n%s", want, got)
	}
	out = "BenchmarkEventsLatency-2 1 5 ns/op 10 p50-ms 90 p99-ms 9.5 floor-p50-ms 30 floor-p99-ms 3 p99-ratio\n"
	got = notMet(t, render(t, out, sections))
	if !strings.Contains(got, "p50 10.0 ms against the floor's 9.500 ms, p99 90.0 ms against 30.0 ms. The medians agree (1.053×): the excess is in the tail.") {
		t.Errorf("latency note not derived from the figures:\n%s", got)
	}
	out = "BenchmarkReplicaPost/R=3-2 1 5 ns/op 1600 events/s 2000 store-events/s 5000 floor-events/s 0.32 ratio 180 p99-ms 120 store-p99-ms 78 floor-p99-ms\n"
	got = notMet(t, render(t, out, sections))
	want = "HTTP path 1600 events/s, store alone 2000, floor 5000: the store keeps 40% of the floor and the HTTP path 80% of the store, so the store (publish, then wait until its own view applied the event) loses more than the HTTP layer. p99: HTTP path 180.0 ms, store alone 120.0 ms, floor 78.0 ms."
	if !strings.Contains(got, want) {
		t.Errorf("replica POST note not derived from the figures; want %q in:\n%s", want, got)
	}
}

func TestCommitAndSoakChecks(t *testing.T) {
	cases := []struct {
		name  string
		dirty bool
		soak  string
		want  string // in "not met"; "" for nothing
	}{
		{"clean, soak passed", false, okSoak, ""},
		{"dirty tree", true, okSoak, "uncommitted changes"},
		{"no soak", false, "", "no soak run recorded"},
		{"soak from before the checks", false, "<!-- soak:begin -->\nold\n<!-- soak:end -->", "says nothing of its checks"},
		{"soak failed", false, "<!-- soak:begin -->\n<!-- soak:result not met: SSE duplicates 3 -->\n<!-- soak:end -->", "not met: SSE duplicates 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := parse(strings.NewReader("BenchmarkX/clients=2-2 1 5 ns/op 0.9 ratio\n"))
			if err != nil {
				t.Fatal(err)
			}
			got := notMet(t, report{commit: "abc1234", dirty: c.dirty, soak: c.soak, res: res}.render(testSection))
			if c.want == "" && !strings.Contains(got, "every figure meets its target") {
				t.Errorf("want nothing not met, got:\n%s", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Errorf("want %q in:\n%s", c.want, got)
			}
		})
	}
}

func TestKeptSoak(t *testing.T) {
	old := "# Benchmarks\n" + okSoak + "\n## Targets not met\n"
	if got := keptSoak(old); got != okSoak {
		t.Errorf("keptSoak = %q, want %q", got, okSoak)
	}
	if got := keptSoak("# Benchmarks\n"); got != "" {
		t.Errorf("keptSoak without a section = %q", got)
	}
}
