package main

import (
	"strings"
	"testing"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

func TestSparkPoints(t *testing.T) {
	// Full: first sample at x=0, last at x=w; y is inverted and scaled.
	if got := sparkPoints([]float64{0, 50, 100}, 3, 100, 20, 100); got != "0,20 50,10 100,0" {
		t.Errorf("full = %q", got)
	}
	// Filling: the newest sample sits at the right edge.
	if got := sparkPoints([]float64{10, 20}, 5, 100, 10, 20); got != "75,5 100,0" {
		t.Errorf("filling = %q", got)
	}
	// Clamped into [0, top].
	if got := sparkPoints([]float64{-5, 500}, 2, 10, 10, 100); got != "0,10 10,0" {
		t.Errorf("clamped = %q", got)
	}
	if sparkPoints(nil, 60, 100, 10, 100) != "" || sparkPoints([]float64{1}, 1, 100, 10, 100) != "" {
		t.Error("degenerate input drew points")
	}
	if got := areaPoints("75,5 100,0", 2, 5, 100, 10); got != "75,10 75,5 100,0 100,10" {
		t.Errorf("area = %q", got)
	}
}

func TestChartScale(t *testing.T) {
	for _, tc := range []struct {
		in    []float64
		floor float64
		want  float64
	}{
		{nil, 5, 5},
		{[]float64{0.3}, 1, 1},
		{[]float64{12}, 5, 20},
		{[]float64{99.5}, 5, 100},
		{[]float64{101}, 5, 150},
		{[]float64{150.5}, 5, 200},
		{[]float64{250}, 5, 300},
		{[]float64{7000}, 5, 7000},
	} {
		if got := chartScale(tc.in, tc.floor); got != tc.want {
			t.Errorf("chartScale(%v, %v) = %v, want %v", tc.in, tc.floor, got, tc.want)
		}
	}
}

func TestSparklineSVG(t *testing.T) {
	svg := sparklineSVG([]float64{1, 2}, 3, 2, "cpu", `CPU of "web"`)
	// The line is drawn in the 25 units above the lift; the area closes
	// on the baseline at 28, under the lift.
	for _, want := range []string{`class="spark cpu"`, `aria-label="CPU of &#34;web&#34;"`, `<polyline class="line" points="60,12.5 120,0"/>`, `<polygon class="area" points="60,28 60,12.5 120,0 120,28"/>`} {
		if !strings.Contains(svg, want) {
			t.Errorf("sparkline lacks %s: %s", want, svg)
		}
	}
	// An idle container's line sits above the baseline, not on it.
	if idle := sparklineSVG([]float64{0, 0}, 3, 1, "cpu", "idle"); !strings.Contains(idle, `points="60,25 120,25"`) {
		t.Errorf("idle sparkline on the baseline: %s", idle)
	}
	// It must be a single root element for app.Raw.
	if err := app.TestMatch(app.Raw(svg), app.TestUIDescriptor{Expected: app.Raw(svg)}); err != nil {
		t.Error(err)
	}
}

func TestHistoryChartPlacesByTime(t *testing.T) {
	now := time.Unix(1000, 0)
	cpu := []chartSeries{{[]chartSample{{now.Add(-time.Minute), 10}, {now, 20}}, "cpu"}}
	svg := historyChartSVG(cpu, percentAxis(cpu, 5), 2*time.Minute, now, 0, "CPU")
	// Plot area: x from 52 to 592 (540 wide), y from 8 to 160 (152 high), top 20.
	if !strings.Contains(svg, `points="322,84 592,8"`) {
		t.Errorf("unexpected points: %s", svg)
	}
	if !strings.Contains(svg, ">20%<") || !strings.Contains(svg, ">−2 min<") {
		t.Errorf("ticks missing: %s", svg)
	}
}

func TestHistoryChartLeavesGapsEmpty(t *testing.T) {
	now := time.Unix(100000, 0)
	at := func(min int) time.Time { return now.Add(time.Duration(min-60) * time.Minute) }
	// Minutes 0–2, then crowsnest was down until 30, then 30–31, then a
	// lone point at 50: three pieces at a resolution of one minute.
	samples := []chartSample{{at(0), 1}, {at(1), 2}, {at(2), 3}, {at(30), 4}, {at(31), 5}, {at(50), 6}}
	cpu := []chartSeries{{samples, "cpu"}}
	svg := historyChartSVG(cpu, percentAxis(cpu, 1), time.Hour, now, time.Minute, "CPU")
	if n := strings.Count(svg, "<polyline"); n != 2 {
		t.Errorf("%d lines, want 2 (a gap after minute 2; the last piece is one point): %s", n, svg)
	}
	if n := strings.Count(svg, "<circle"); n != 1 {
		t.Errorf("%d dots, want 1 for the lone point: %s", n, svg)
	}
	if !strings.Contains(svg, ">−1 h<") {
		t.Errorf("span tick missing: %s", svg)
	}
	if joined := historyChartSVG(cpu, percentAxis(cpu, 1), time.Hour, now, 0, "CPU"); strings.Count(joined, "<polyline") != 1 {
		t.Errorf("gap 0 should join every sample: %s", joined)
	}
}

// Network and disk charts draw two series on one byte-rate axis, in their
// own colours, with ticks a reader can take in at a glance.
func TestRateChartDrawsBothSeries(t *testing.T) {
	now := time.Unix(1000, 0)
	net := []chartSeries{
		{[]chartSample{{now.Add(-time.Minute), 3 << 20}, {now, 1 << 20}}, "net-rx"},
		{[]chartSample{{now.Add(-time.Minute), 100 << 10}, {now, 0}}, "net-tx"},
	}
	axis := rateAxis(net)
	if axis.top != 5<<20 {
		t.Errorf("axis top %v for a 3 MiB/s peak, want 5 MiB/s", axis.top)
	}
	svg := historyChartSVG(net, axis, 2*time.Minute, now, 0, "Network")
	for _, want := range []string{`<g class="net-rx">`, `<g class="net-tx">`, ">5 M<", ">2.5 M<", ">0<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %s: %s", want, svg)
		}
	}
	if n := strings.Count(svg, "<polyline"); n != 2 {
		t.Errorf("%d lines, want one per series: %s", n, svg)
	}
	if idle := rateAxis([]chartSeries{{[]chartSample{{now, 0}}, "net-rx"}}); idle.top != 1024 {
		t.Errorf("an idle container's axis tops at %v, want 1 KiB/s", idle.top)
	}
}

func TestRateOfCounters(t *testing.T) {
	if got := rate(1000, 3000, 2); got != 1000 {
		t.Errorf("rate(1000, 3000, 2 s) = %v, want 1000", got)
	}
	if got := rate(5000, 300, 1); got != 300 {
		t.Errorf("a counter reset by a restart: rate = %v, want 300 (from zero)", got)
	}
}

func TestRing(t *testing.T) {
	r := newRing[int](3)
	if _, ok := r.last(); ok {
		t.Error("empty ring has a last value")
	}
	for i := 1; i <= 5; i++ {
		r.push(i)
	}
	if got := r.slice(); len(got) != 3 || got[0] != 3 || got[2] != 5 || r.at(1) != 4 {
		t.Errorf("ring = %v", got)
	}
	if v, _ := r.last(); v != 5 {
		t.Errorf("last = %d", v)
	}
	r.reset()
	r.push(9)
	if got := r.slice(); len(got) != 1 || got[0] != 9 {
		t.Errorf("after reset = %v", got)
	}
}
