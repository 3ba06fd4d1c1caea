package main

import (
	"html"
	"math"
	"strconv"
	"strings"
	"time"
)

// Charts are SVG strings handed to app.Raw: one string compare decides
// whether a chart changed, and the browser parses a few hundred bytes per
// update, which is far cheaper than diffing a node per point every second.

// chartScale is the top of a percentage chart's y axis: the next "nice"
// value above the largest sample, at least floor, so small loads are not
// drawn as if they were full and the axis does not jump on every sample.
// Above 100 % (CPU: a core) the steps are half cores, then cores, so a
// container just over one core is not drawn in the bottom half of a 200 %
// chart.
func chartScale(samples []float64, floor float64) float64 {
	top := floor
	for _, v := range samples {
		if v > top {
			top = v
		}
	}
	for _, nice := range []float64{1, 2, 5, 10, 20, 25, 50, 100, 150, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200, 4800, 6400} {
		if top <= nice {
			return nice
		}
	}
	return math.Ceil(top/1000) * 1000
}

// sparkPoints maps samples onto a w×h box as an SVG points list. The newest
// sample is at the right edge and each sample takes w/(capacity-1), so a
// chart that is still filling grows from the right as a live chart does.
// Values are clamped into [0, top]; y grows downwards in SVG.
func sparkPoints(samples []float64, capacity int, w, h, top float64) string {
	if len(samples) == 0 || capacity < 2 || top <= 0 {
		return ""
	}
	step := w / float64(capacity-1)
	x0 := w - step*float64(len(samples)-1)
	var b strings.Builder
	for i, v := range samples {
		if i > 0 {
			b.WriteByte(' ')
		}
		v = math.Max(0, math.Min(v, top))
		b.WriteString(fmtCoord(x0 + step*float64(i)))
		b.WriteByte(',')
		b.WriteString(fmtCoord(h - v/top*h))
	}
	return b.String()
}

// areaPoints closes a line's points down to the baseline, for the fill.
func areaPoints(line string, samples, capacity int, w, h float64) string {
	if line == "" {
		return ""
	}
	step := w / float64(capacity-1)
	x0 := w - step*float64(samples-1)
	return fmtCoord(x0) + "," + fmtCoord(h) + " " + line + " " + fmtCoord(w) + "," + fmtCoord(h)
}

// fmtCoord prints a coordinate with at most one decimal: enough for a
// screen and half the bytes of full precision.
func fmtCoord(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// sparkFloor is the smallest top of a percentage chart's scale (the list's
// sparklines and a container page's charts), in percent.
// Most containers idle well under 1 % CPU: on a 0–5 % scale their line lay
// on the baseline and the chart looked empty, while 0–1 % shows an idle
// container's small movements and still grows (chartScale) under load.
const sparkFloor = 1

// sparkLift is how far above the baseline a sparkline's zero sits, in
// viewBox units (the box is 28 high): a container at 0 % still shows its
// coloured line and a sliver of fill over the grey baseline, so "idle"
// reads differently from "no data yet", which draws the baseline alone.
const sparkLift = 3.0

// sparklineSVG is the small chart of the container list: a grey baseline,
// the filled area under the samples and their line.
func sparklineSVG(samples []float64, capacity int, top float64, class, label string) string {
	const w, h = 120.0, 28.0
	line := sparkPoints(samples, capacity, w, h-sparkLift, top)
	var b strings.Builder
	b.WriteString(`<svg class="spark ` + class + `" viewBox="0 -1 120 30" preserveAspectRatio="none" role="img" aria-label="` + html.EscapeString(label) + `">`)
	b.WriteString(`<line class="base" x1="0" x2="120" y1="28" y2="28"/>`)
	if line != "" {
		b.WriteString(`<polygon class="area" points="` + areaPoints(line, len(samples), capacity, w, h) + `"/>`)
		b.WriteString(`<polyline class="line" points="` + line + `"/>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// chartSample is one point of a larger chart.
type chartSample struct {
	at time.Time
	v  float64
}

// chartSeries is one line of a larger chart, drawn in class's colour.
type chartSeries struct {
	samples []chartSample
	class   string
}

// chartAxis is a larger chart's y axis: its top and how a tick reads.
type chartAxis struct {
	top  float64
	tick func(float64) string
}

// percentAxis is the axis of percentage series (CPU, memory), at least
// floor high (see chartScale).
func percentAxis(series []chartSeries, floor float64) chartAxis {
	return chartAxis{top: chartScale(seriesValues(series), floor), tick: func(v float64) string { return fmtTick(v) + "%" }}
}

// rateAxis is the axis of byte-rate series (network, disk): its top the
// next 1, 2 or 5 times a power of 1024 above the largest value, at least
// 1 KiB/s so an idle container's line does not fill the chart.
func rateAxis(series []chartSeries) chartAxis {
	top := 1024.0
	for _, v := range seriesValues(series) {
		top = max(top, v)
	}
	unit := 1.0
	for top > unit*1000 {
		unit *= 1024
	}
	for _, nice := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000} {
		if top <= nice*unit {
			return chartAxis{top: nice * unit, tick: fmtRateTick}
		}
	}
	return chartAxis{top: 1024 * unit, tick: fmtRateTick}
}

func seriesValues(series []chartSeries) []float64 {
	var vals []float64
	for _, s := range series {
		for _, x := range s.samples {
			vals = append(vals, x.v)
		}
	}
	return vals
}

// historyChartSVG is the larger chart of a container's page: a filled
// line per series, y gridlines at 0, half and top labelled by the axis,
// and the time span under the x axis. Samples are placed by time. Two
// samples more than gap apart (gap > 0) are not joined: the time between
// shows empty, as it is when crowsnest or the container was not running;
// with gap 0 every sample is joined, and a pause in a live stream shows as
// a straight segment.
func historyChartSVG(series []chartSeries, axis chartAxis, span time.Duration, now time.Time, gap time.Duration, label string) string {
	const w, h, left, bottom = 600.0, 180.0, 52.0, 20.0
	pw, ph := w-left-8, h-bottom-8
	top := axis.top
	var b strings.Builder
	b.WriteString(`<svg class="chart" viewBox="0 0 600 180" role="img" aria-label="` + html.EscapeString(label) + `">`)
	for _, f := range []float64{0, 0.5, 1} {
		y := 8 + ph - f*ph
		b.WriteString(`<line class="grid" x1="` + fmtCoord(left) + `" x2="` + fmtCoord(w-8) + `" y1="` + fmtCoord(y) + `" y2="` + fmtCoord(y) + `"/>`)
		b.WriteString(`<text class="tick" x="` + fmtCoord(left-6) + `" y="` + fmtCoord(y+4) + `" text-anchor="end">` + html.EscapeString(axis.tick(f*top)) + `</text>`)
	}
	b.WriteString(`<text class="tick" x="` + fmtCoord(left) + `" y="` + fmtCoord(h-4) + `">−` + html.EscapeString(fmtSpan(span)) + `</text>`)
	b.WriteString(`<text class="tick" x="` + fmtCoord(w-8) + `" y="` + fmtCoord(h-4) + `" text-anchor="end">now</text>`)
	start := now.Add(-span)
	x := func(t time.Time) float64 { return left + math.Max(0, float64(t.Sub(start))/float64(span))*pw }
	y := func(v float64) float64 { return 8 + ph - math.Max(0, math.Min(v, top))/top*ph }
	base := fmtCoord(8 + ph)
	for _, s := range series {
		b.WriteString(`<g class="` + s.class + `">`)
		for _, seg := range segments(s.samples, gap) {
			if len(seg) == 1 {
				b.WriteString(`<circle class="dot" cx="` + fmtCoord(x(seg[0].at)) + `" cy="` + fmtCoord(y(seg[0].v)) + `" r="2"/>`)
				continue
			}
			var line strings.Builder
			for i, p := range seg {
				if i > 0 {
					line.WriteByte(' ')
				}
				line.WriteString(fmtCoord(x(p.at)) + "," + fmtCoord(y(p.v)))
			}
			b.WriteString(`<polygon class="area" points="` + fmtCoord(x(seg[0].at)) + "," + base + " " + line.String() + " " + fmtCoord(x(seg[len(seg)-1].at)) + "," + base + `"/>`)
			b.WriteString(`<polyline class="line" points="` + line.String() + `"/>`)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// segments splits samples wherever two are more than gap apart; gap 0
// keeps them in one segment.
func segments(samples []chartSample, gap time.Duration) [][]chartSample {
	var out [][]chartSample
	from := 0
	for i := 1; i <= len(samples); i++ {
		if i == len(samples) || (gap > 0 && samples[i].at.Sub(samples[i-1].at) > gap) {
			out = append(out, samples[from:i])
			from = i
		}
	}
	if len(samples) == 0 {
		return nil
	}
	return out
}

// fmtTick prints an axis value without needless decimals.
func fmtTick(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// fmtRateTick prints a byte-rate axis value compactly: "0", "512 K",
// "1.5 M" (powers of 1024; the card's caption says bytes per second).
func fmtRateTick(v float64) string {
	if v < 1024 {
		return fmtTick(v)
	}
	i := -1
	for v >= 1024 && i < 4 {
		v /= 1024
		i++
	}
	return fmtTick(math.Round(v*10)/10) + " " + string("KMGTP"[i])
}

// fmtSpan prints a chart's time span: "30 days", "6 h", "5 min", "60 s".
func fmtSpan(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d > day && d%day == 0:
		return strconv.Itoa(int(d/day)) + " days"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return strconv.Itoa(int(d/time.Second)) + " s"
}
