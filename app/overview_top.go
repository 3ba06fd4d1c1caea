package main

import (
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// topRanges are the ranges the overview's top consumers can cover.
var topRanges = []rangeChoice{
	{"1h", "1 h", time.Hour},
	{"6h", "6 h", 6 * time.Hour},
	{"24h", "24 h", 24 * time.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour},
	{"30d", "30 days", 30 * 24 * time.Hour},
}

// topRefresh is how often the top consumers are reread.
const topRefresh = time.Minute

// topN is how many containers each ranking shows.
const topN = 5

// topConsumers is the overview's "top consumers": the containers with the
// highest mean CPU and memory over a chosen range of the stats history
// (GET /api/v1/stats/top).
type topConsumers struct {
	app.Compo

	rng  string
	top  *wire.StatsTop
	note notice
	work pageStream // the poll, keyed by the range
}

// OnMount starts reading the default range.
func (c *topConsumers) OnMount(ctx app.Context) {
	c.pick(ctx, topRanges[0].name)
}

// OnDismount stops the polling.
func (c *topConsumers) OnDismount() {
	c.work.stop()
}

// pick switches to range rng and reads it now, then every topRefresh.
func (c *topConsumers) pick(ctx app.Context, rng string) {
	pctx, fresh := c.work.restart(ctx, rng)
	if !fresh {
		return
	}
	c.rng, c.top, c.note = rng, nil, notice{}
	ctx.Async(func() {
		for {
			top, err := apiStatsTop(pctx, rng, topN)
			if pctx.Err() != nil {
				return
			}
			ctx.Dispatch(func(app.Context) {
				if pctx.Err() != nil {
					return
				}
				c.note = noticeOf(err)
				if err == nil {
					c.top = &top
				}
			})
			select {
			case <-pctx.Done():
				return
			case <-time.After(topRefresh):
			}
		}
	})
}

// Render draws the range choice and the two rankings.
func (c *topConsumers) Render() app.UI {
	var cpu, mem []wire.StatsTopEntry
	if c.top != nil {
		cpu, mem = c.top.CPU, c.top.Memory
	}
	return app.Section().ID("top-consumers").Aria("labelledby", "top-title").Body(
		app.Div().Class("section-head").Body(
			app.H2().ID("top-title").Text("Top consumers"),
			app.Div().Class("range-picker").Role("group").Aria("label", "Top consumers over").Body(
				app.Range(topRanges).Slice(func(i int) app.UI {
					r := topRanges[i]
					return app.Button().ID("top-range-"+r.name).Class("btn btn-small").
						Aria("pressed", c.rng == r.name).Text(r.label).
						OnClick(func(ctx app.Context, e app.Event) { c.pick(ctx, r.name) })
				}),
			),
		),
		noticeView("top-notice", c.note),
		app.If(c.note.kind == noticeNone,
			app.Div().Class("cards top-cards").Body(
				c.ranking("top-cpu", "By mean CPU", "cpu", cpu, func(e wire.StatsTopEntry) (float64, string) {
					return e.CPU, fmtPercent(e.CPU)
				}),
				c.ranking("top-mem", "By mean memory", "mem", mem, func(e wire.StatsTopEntry) (float64, string) {
					return float64(e.MemoryBytes), fmtBytes(e.MemoryBytes)
				}),
			),
		),
	)
}

// ranking is one list: each container's name linked to its page over the
// same range, its figure, and a bar relative to the first.
func (c *topConsumers) ranking(id, title, class string, entries []wire.StatsTopEntry, value func(wire.StatsTopEntry) (float64, string)) app.UI {
	var first float64
	if len(entries) > 0 {
		first, _ = value(entries[0])
	}
	empty := "No stats history in this range yet."
	if c.top == nil {
		empty = "Loading…"
	}
	return app.Article().ID(id).Class("card top-card").Body(
		app.H3().Text(title),
		app.If(len(entries) == 0, app.P().Class("muted small").Text(empty)),
		app.Ol().Class("top-list").Body(
			app.Range(entries).Slice(func(i int) app.UI {
				e := entries[i]
				v, text := value(e)
				width := 0.0
				if first > 0 {
					width = v / first * 100
				}
				link := containerLink(e.Host, e.ID) + "?range=" + c.rng
				return app.Li().DataSet("id", e.ID).Body(
					app.Div().Class("top-line").Body(
						app.A().Href(link).Class("strong").Title(e.Host+" · "+e.Image).Text(e.Name),
						app.Span().Class("num").Text(text),
					),
					app.Div().Class("top-bar "+class).Body(
						app.Span().Style("width", fmtCoord(width)+"%"),
					),
				)
			}),
		),
	)
}
