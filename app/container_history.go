package main

import (
	"context"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// rangeChoice is one range of the container page's picker; name "" is the
// live stream.
type rangeChoice struct {
	name, label string
	span        time.Duration
}

// rangeChoices are the picker's ranges: live, then the stats history's
// named ranges (GET /api/v1/containers/{id}/stats?range=).
var rangeChoices = []rangeChoice{
	{"", "Live", historySpan},
	{"15m", "15 min", 15 * time.Minute},
	{"1h", "1 h", time.Hour},
	{"6h", "6 h", 6 * time.Hour},
	{"24h", "24 h", 24 * time.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour},
	{"30d", "30 days", 30 * 24 * time.Hour},
}

// defaultGoneRange is the range a removed container's page shows, since
// it has no live stream.
const defaultGoneRange = "24h"

// historyRefresh is how often a history chart is reread while shown.
const historyRefresh = 30 * time.Second

func rangeSpan(name string) (time.Duration, bool) {
	for _, c := range rangeChoices {
		if c.name == name {
			return c.span, true
		}
	}
	return 0, false
}

// showRange switches the charts to rng ("" live, unknown names too) and,
// for a history range, starts reading it.
func (p *containerPage) showRange(ctx app.Context, rng string) {
	if _, ok := rangeSpan(rng); !ok {
		rng = ""
	}
	if rng == "" {
		p.histWork.stop()
		p.rng, p.hist, p.histNote = "", nil, notice{}
		return
	}
	hctx, fresh := p.histWork.restart(ctx, rng)
	if !fresh {
		return // already showing it
	}
	p.rng, p.hist, p.histNote = rng, nil, notice{}
	host, id := p.host, p.id
	ctx.Async(func() { p.pollHistory(ctx, hctx, host, id, rng) })
}

// pickRange is a click on the picker: the range goes into the URL, so the
// view can be shared and survives a reload.
func (p *containerPage) pickRange(ctx app.Context, rng string) {
	u := *ctx.Page().URL()
	q := u.Query()
	if rng == "" {
		q.Del("range")
	} else {
		q.Set("range", rng)
	}
	u.RawQuery = q.Encode()
	ctx.Page().ReplaceURL(&u)
	p.showRange(ctx, rng)
}

// pollHistory reads the container's history over rng now and every
// historyRefresh, until hctx ends.
func (p *containerPage) pollHistory(ctx app.Context, hctx context.Context, host, id, rng string) {
	for {
		h, err := apiContainerHistory(hctx, host, id, rng)
		if hctx.Err() != nil {
			return
		}
		ctx.Dispatch(func(app.Context) {
			if hctx.Err() != nil {
				return // another range was picked meanwhile
			}
			p.histNote = historyNotice(err)
			if err == nil {
				p.hist = &h
			}
		})
		select {
		case <-hctx.Done():
			return
		case <-time.After(historyRefresh):
		}
	}
}

// historyNotice words a history error: a 404 means nothing was sampled
// for the container (yet), which is not an outage.
func historyNotice(err error) notice {
	if isStatus(err, 404) {
		return notice{kind: noticeUnavailable, msg: "no stats history is stored for this container yet"}
	}
	return noticeOf(err)
}

// rangePicker is the buttons that choose the charts' range.
func (p *containerPage) rangePicker() app.UI {
	return app.Div().ID("range-picker").Class("range-picker").Role("group").Aria("label", "Chart range").Body(
		app.Range(rangeChoices).Slice(func(i int) app.UI {
			c := rangeChoices[i]
			id := "range-" + c.name
			if c.name == "" {
				id = "range-live"
			}
			return app.Button().ID(id).Class("btn btn-small").
				Aria("pressed", p.rng == c.name).
				Disabled(c.name == "" && p.gone).
				Text(c.label).
				OnClick(func(ctx app.Context, e app.Event) { p.pickRange(ctx, c.name) })
		}),
	)
}

// charts draws CPU, memory, network and disk I/O: the live samples of the
// last minutes, or the history of the range picked, with gaps where
// nothing was sampled.
func (p *containerPage) charts(now time.Time) app.UI {
	if p.rng == "" {
		cpuNow, memNow, netNow, diskNow := "—", "—", "—", "—"
		if p.last != nil {
			cpuNow = fmtPercent(p.last.CPUUsage)
			memNow = fmtPercent(p.last.MemoryUsage) + " · " + fmtBytes(p.last.MemoryBytes) + " of " + fmtBytes(p.last.MemoryLimit)
		}
		if rx, tx := window(p.rx, now), window(p.tx, now); len(rx) > 0 {
			netNow = ratePair("in", rx[len(rx)-1].v, "out", tx[len(tx)-1].v)
		}
		if rd, wr := window(p.rd, now), window(p.wr, now); len(rd) > 0 {
			diskNow = ratePair("read", rd[len(rd)-1].v, "write", wr[len(wr)-1].v)
		}
		return p.chartCards(historySpan, now, 0, "last 5 minutes",
			[4]string{cpuNow, memNow, netNow, diskNow},
			window(p.cpu, now), window(p.mem, now), window(p.rx, now), window(p.tx, now), window(p.rd, now), window(p.wr, now))
	}
	span, _ := rangeSpan(p.rng)
	var cpu, mem, rx, tx, rd, wr []chartSample
	var gap time.Duration
	end := now
	if h := p.hist; h != nil {
		gap = time.Duration(h.Resolution) * time.Second
		end = h.To
		for _, pt := range h.Points {
			cpu = append(cpu, chartSample{at: pt.T, v: pt.CPU})
			mem = append(mem, chartSample{at: pt.T, v: pt.Memory})
			rx = append(rx, chartSample{at: pt.T, v: pt.NetRx})
			tx = append(tx, chartSample{at: pt.T, v: pt.NetTx})
			rd = append(rd, chartSample{at: pt.T, v: pt.BlockRead})
			wr = append(wr, chartSample{at: pt.T, v: pt.BlockWrite})
		}
	}
	return p.chartCards(span, end, gap, "last "+fmtSpan(span),
		[4]string{rangeSummary(cpu, p.hist, fmtPercent), rangeSummary(mem, p.hist, fmtPercent),
			rangeSummary(sumSamples(rx, tx), p.hist, fmtRate), rangeSummary(sumSamples(rd, wr), p.hist, fmtRate)},
		cpu, mem, rx, tx, rd, wr)
}

// chartCards lays out the four charts with their caption figures.
func (p *containerPage) chartCards(span time.Duration, end time.Time, gap time.Duration, label string, nums [4]string, cpu, mem, rx, tx, rd, wr []chartSample) app.UI {
	cpuS, memS := []chartSeries{{cpu, "cpu"}}, []chartSeries{{mem, "mem"}}
	netS, diskS := []chartSeries{{rx, "net-rx"}, {tx, "net-tx"}}, []chartSeries{{rd, "disk-rd"}, {wr, "disk-wr"}}
	return app.Div().Class("charts").Body(
		chartCard("CPU", "cpu-now", nums[0], historyChartSVG(cpuS, percentAxis(cpuS, sparkFloor), span, end, gap, "CPU usage, "+label)),
		chartCard("Memory", "mem-now", nums[1], historyChartSVG(memS, percentAxis(memS, sparkFloor), span, end, gap, "Memory usage, "+label)),
		chartCard("Network, bytes/s", "net-now", nums[2], historyChartSVG(netS, rateAxis(netS), span, end, gap, "Network received and sent per second, "+label), "received", "sent"),
		chartCard("Disk I/O, bytes/s", "disk-now", nums[3], historyChartSVG(diskS, rateAxis(diskS), span, end, gap, "Disk read and written per second, "+label), "read", "written"),
	)
}

// ratePair is a caption figure of two rates, each with its legend mark.
func ratePair(a string, av float64, b string, bv float64) string {
	return a + " " + fmtRate(av) + " · " + b + " " + fmtRate(bv)
}

// sumSamples adds two series point by point (they share their times).
func sumSamples(a, b []chartSample) []chartSample {
	out := make([]chartSample, min(len(a), len(b)))
	for i := range out {
		out[i] = chartSample{at: a[i].at, v: a[i].v + b[i].v}
	}
	return out
}

// chartCard is a chart with its caption and current figure, and for a
// chart of two series the names of their colours (in, then out).
func chartCard(title, numID, num, svg string, keys ...string) app.UI {
	body := []app.UI{
		app.FigCaption().Body(app.Span().Text(title), app.Span().ID(numID).Class("num").Text(num)),
		app.Raw(svg),
	}
	if len(keys) == 2 {
		body = append(body, app.Div().Class("chart-keys").Body(
			app.Span().Class("key in").Text(keys[0]),
			app.Span().Class("key out").Text(keys[1]),
		))
	}
	return app.Figure().Class("card chart-card").Body(body...)
}

// rangeSummary is a history chart's caption figure: the mean and the peak
// over the range, printed by format, and the step between points.
func rangeSummary(samples []chartSample, h *wire.StatsHistory, format func(float64) string) string {
	if h == nil {
		return "loading…"
	}
	if len(samples) == 0 {
		return "no data in this range"
	}
	var sum, peak float64
	for _, s := range samples {
		sum += s.v
		peak = max(peak, s.v)
	}
	return "mean " + format(sum/float64(len(samples))) + " · peak " + format(peak) + " · every " + fmtSpan(time.Duration(h.Resolution)*time.Second)
}
