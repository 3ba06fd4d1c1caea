package main

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// historySpan is how far back a container page's charts reach; at the
// default interval that is 300 samples.
const historySpan = 5 * time.Minute

// containerPage is /containers/{host}/{id}: a container's inspect summary,
// larger CPU and memory charts with the history since the page opened, and
// start/stop/restart for admins.
type containerPage struct {
	app.Compo

	host, id   string
	detail     *wire.ContainerDetail
	detailNote notice
	statsNote  notice
	cpu, mem   *ring[chartSample]
	// rx, tx, rd and wr are byte rates (network received and sent, disk
	// read and written) between consecutive live samples.
	rx, tx, rd, wr *ring[chartSample]
	last           *wire.Stats
	feed           statsFeed
	work           pageStream // the stream and polls, keyed by host and id

	session   wire.Session
	busy      string        // the action under way, or ""
	actionErr string        // the last action's failure
	actionOK  string        // the last action's success
	refresh   chan struct{} // asks pollDetail to read the container now

	// rng is the charts' range: "" for the live stream, else a history
	// range (rangeChoices), from ?range= so a view is shareable.
	rng      string
	hist     *wire.StatsHistory
	histNote notice
	histWork pageStream // the history poll, keyed by the range
	// gone: the engine no longer has the container (inspect says 404),
	// so only its history is left to show.
	gone bool
	// tab is the view, from ?tab=: "" for the charts and inspect summary,
	// "terminal" for a shell in the container. termOpen: the Terminal tab
	// was opened on this container, so its session is kept (hidden) while
	// the other tab shows.
	tab      string
	termOpen bool
}

// OnInit gives the charts their rings before the first render.
func (p *containerPage) OnInit() {
	p.newRings()
}

// OnMount follows the session: admins get the actions.
func (p *containerPage) OnMount(ctx app.Context) {
	observeSession(ctx, &p.session)
}

// newRings empties the live charts.
func (p *containerPage) newRings() {
	for _, r := range []**ring[chartSample]{&p.cpu, &p.mem, &p.rx, &p.tx, &p.rd, &p.wr} {
		*r = newRing[chartSample](600)
	}
}

// OnNav reads host and id from the path and (re)starts the page's work
// when they changed: go-app keeps the component when only the path differs.
func (p *containerPage) OnNav(ctx app.Context) {
	host, id := parseContainerPath(ctx.Page().URL().Path)
	rng := ctx.Page().URL().Query().Get("range")
	sctx, fresh := p.work.restart(ctx, host+"/"+id)
	if fresh {
		p.termOpen = false
	}
	p.showTab(ctx.Page().URL().Query().Get("tab"))
	if !fresh {
		if rng != p.rng {
			p.showRange(ctx, rng)
		}
		return
	}
	p.host, p.id, p.detail, p.last = host, id, nil, nil
	p.detailNote, p.statsNote = notice{}, notice{}
	p.newRings()
	p.busy, p.actionErr, p.actionOK = "", "", ""
	p.refresh = make(chan struct{}, 1)
	p.gone = false
	p.histWork.stop() // another container's history
	p.showRange(ctx, rng)
	ctx.Page().SetTitle(id + " · crowsnest")
	refresh := p.refresh
	ctx.Async(func() { p.pollDetail(ctx, sctx, refresh) })
	q := url.Values{"host": {host}, "container": {id}}
	onNotice := func(n notice) { ctx.Dispatch(func(app.Context) { p.statsNote = n }) }
	ctx.Async(func() { runWS(sctx, p.feed.socket(ctx, "container-stats", q, 100*time.Millisecond, p.flush, onNotice)) })
}

// showTab switches to tab; the terminal opens the first time it is shown.
func (p *containerPage) showTab(tab string) {
	if tab != tabTerminal {
		tab = ""
	}
	p.tab = tab
	p.termOpen = p.termOpen || tab == tabTerminal
}

// tabTerminal is ?tab= of the container page's Terminal tab.
const tabTerminal = "terminal"

// OnDismount stops the page's stream and history polling.
func (p *containerPage) OnDismount() {
	p.work.stop()
	p.histWork.stop()
}

// parseContainerPath splits /containers/{host}/{id}.
func parseContainerPath(path string) (host, id string) {
	rest := strings.TrimPrefix(path, pathContainer)
	h, i, _ := strings.Cut(rest, "/")
	host, err := url.PathUnescape(h)
	if err != nil {
		host = h
	}
	id, err = url.PathUnescape(i)
	if err != nil {
		id = i
	}
	return host, id
}

// pollDetail reads the inspect summary now, every 15 s (state, restarts)
// and when an action asks (refresh).
func (p *containerPage) pollDetail(ctx app.Context, sctx context.Context, refresh <-chan struct{}) {
	host, id := p.host, p.id
	for {
		d, err := apiContainer(sctx, host, id)
		if sctx.Err() != nil {
			return
		}
		gone := isStatus(err, 404)
		if err != nil && !gone {
			app.Logf("container %s: %v", p.id, err)
		}
		ctx.Dispatch(func(ctx app.Context) {
			p.gone = gone
			if gone {
				// A removed container: its history is what is left.
				p.detailNote, p.detail = notice{}, nil
				if p.rng == "" {
					p.showRange(ctx, defaultGoneRange)
				}
				return
			}
			p.detailNote = noticeOf(err)
			if err == nil {
				p.detail = &d
			}
		})
		select {
		case <-sctx.Done():
			return
		case <-refresh:
		case <-time.After(15 * time.Second):
		}
	}
}

// act runs a container action; the buttons are disabled, with a spinner on
// the one clicked, until the engine is done, then the page rereads the
// container.
func (p *containerPage) act(ctx app.Context, a containerAction, name string) {
	host, id, refresh := p.host, p.id, p.refresh
	p.busy, p.actionErr, p.actionOK = a.name, "", ""
	ctx.Async(func() {
		err := apiContainerAction(ctx, host, id, a.name)
		if ctx.Err() != nil {
			return
		}
		ctx.Dispatch(func(app.Context) {
			if p.host != host || p.id != id {
				return // the page moved on to another container
			}
			p.busy = ""
			if err != nil {
				p.actionErr = a.label + " " + name + " failed: " + describeErr(err)
				return
			}
			p.actionOK = actionDone(a.name, name)
			if p.detail != nil {
				p.detail.State = actionState(a.name) // until the reread says more
			}
		})
		select {
		case refresh <- struct{}{}:
		default:
		}
	})
}

// flush applies the stats that arrived.
func (p *containerPage) flush(ctx app.Context) {
	stats, _ := p.feed.take()
	for i := range stats {
		s := stats[i]
		if s.ID != p.id && !strings.HasPrefix(s.ID, p.id) {
			continue
		}
		at := s.Timestamp
		if at.IsZero() {
			at = time.Now()
		}
		p.cpu.push(chartSample{at: at, v: s.CPUUsage})
		p.mem.push(chartSample{at: at, v: s.MemoryUsage})
		if prev := p.last; prev != nil && at.After(prev.Timestamp) && !prev.Timestamp.IsZero() {
			dt := at.Sub(prev.Timestamp).Seconds()
			p.rx.push(chartSample{at: at, v: rate(prev.NetRx, s.NetRx, dt)})
			p.tx.push(chartSample{at: at, v: rate(prev.NetTx, s.NetTx, dt)})
			p.rd.push(chartSample{at: at, v: rate(prev.BlockRead, s.BlockRead, dt)})
			p.wr.push(chartSample{at: at, v: rate(prev.BlockWrite, s.BlockWrite, dt)})
		}
		p.last = &s
	}
}

// rate is a counter's growth per second; a counter that went back (the
// container restarted) counts from zero.
func rate(before, after uint64, seconds float64) float64 {
	if after < before {
		before = 0
	}
	return float64(after-before) / seconds
}

// window is the samples within the chart's span.
func window(r *ring[chartSample], now time.Time) []chartSample {
	all := r.slice()
	cut := now.Add(-historySpan)
	i := 0
	for i < len(all) && all[i].at.Before(cut) {
		i++
	}
	return all[i:]
}

// Render draws the page.
func (p *containerPage) Render() app.UI {
	now := time.Now()
	name := p.id
	switch {
	case p.detail != nil && p.detail.Name != "":
		name = p.detail.Name
	case p.last != nil:
		name = p.last.Name
	case p.hist != nil && p.hist.Name != "":
		name = p.hist.Name
	}
	state := ""
	if p.detail != nil {
		state = p.detail.State
	}
	return layout("overview",
		app.Nav().Aria("label", "Breadcrumb").Class("crumbs").Body(
			app.A().Href(pathOverview).Text("Overview"),
			app.Span().Aria("hidden", "true").Text(" / "),
			app.Span().Text(p.host),
		),
		app.Div().Class("section-head").Body(
			app.Div().Class("title-line").Body(
				app.H1().ID("container-name").Text(name),
				app.If(state != "", app.Span().ID("container-state").Class(stateClass(state)).Text(state)),
			),
			app.Div().Class("actions").Body(
				app.If(canAct(p.session) && p.detail != nil,
					actionButtons(rowKey(p.host, p.id), "container-", name, state, p.busy, false, func(ctx app.Context, a containerAction) {
						p.act(ctx, a, name)
					}),
				),
				app.A().Class("btn").ID("container-logs").Href(pathLogs+"?"+url.Values{"host": {p.host}, "container": {p.id}}.Encode()).Text("Logs"),
				app.A().Class("btn").ID("container-events").Href(pathEvents+"?"+url.Values{"container": {name}, "host": {p.host}, "since": {"24h"}}.Encode()).Text("Events"),
			),
		),
		app.If(p.actionErr != "", app.P().ID("action-error").Class("notice notice-error").Role("alert").Text(p.actionErr)),
		app.If(p.actionOK != "", app.P().ID("action-ok").Class("notice notice-ok").Role("status").Text(p.actionOK)),
		noticeView("detail-notice", p.detailNote),
		p.tabs(),
		app.Div().ID("container-overview").Hidden(p.tab == tabTerminal).Body(
			noticeView("stats-notice", p.statsNote),
			p.rangePicker(),
			app.If(p.gone, app.P().ID("gone-notice").Class("notice notice-muted").Role("status").Text("This container no longer exists on its engine: the charts show its stored stats history.")),
			noticeView("history-notice", p.histNote),
			p.charts(now),
			p.detailView(),
		),
		app.If(p.termOpen && p.session.Exec,
			app.Div().ID("container-terminal").Hidden(p.tab != tabTerminal).Body(
				&terminal{Host: p.host, ID: p.id, Shown: p.tab == tabTerminal},
			),
		),
	)
}

// tabs switch between the charts and the terminal, for a caller that may
// open one (GET /api/v1/session says so).
func (p *containerPage) tabs() app.UI {
	if !p.session.Exec || p.gone {
		return nil
	}
	base := containerLink(p.host, p.id)
	q := url.Values{}
	if p.rng != "" {
		q.Set("range", p.rng)
	}
	overview := base
	if len(q) > 0 {
		overview += "?" + q.Encode()
	}
	q.Set("tab", tabTerminal)
	return app.Div().Class("tabs container-tabs").Role("tablist").Aria("label", "Container view").Body(
		app.A().ID("tab-overview").Role("tab").Aria("selected", p.tab == "").Class(tabClass(p.tab == "")).Href(overview).Text("Overview"),
		app.A().ID("tab-terminal").Role("tab").Aria("selected", p.tab == tabTerminal).Class(tabClass(p.tab == tabTerminal)).Href(base+"?"+q.Encode()).Text("Terminal"),
	)
}

// detailView is the inspect summary.
func (p *containerPage) detailView() app.UI {
	d := p.detail
	if d == nil {
		return nil
	}
	type kv struct{ k, v string }
	now := time.Now()
	items := []kv{
		{"State", d.State + " (" + d.Status + ")"},
		{"Image", d.Image},
		{"ID", d.ID},
		{"Host", d.Host},
		{"Created", fmtClock(d.Created, now)},
		{"Started", fmtClock(d.StartedAt, now)},
	}
	if !d.FinishedAt.IsZero() && d.State != "running" {
		items = append(items, kv{"Finished", fmtClock(d.FinishedAt, now) + " · exit code " + strconv.Itoa(d.ExitCode)})
	}
	if len(d.Command) > 0 {
		items = append(items, kv{"Command", strings.Join(d.Command, " ")})
	}
	items = append(items, kv{"Restarts", strconv.Itoa(d.RestartCount)})
	if d.Health != "" {
		items = append(items, kv{"Health", d.Health})
	}
	if d.MemoryLimit > 0 {
		items = append(items, kv{"Memory limit", fmtBytes(uint64(d.MemoryLimit))})
	}
	if d.NanoCPUs > 0 {
		items = append(items, kv{"CPUs", strconv.FormatFloat(float64(d.NanoCPUs)/1e9, 'f', -1, 64)})
	}
	if d.NetworkMode != "" {
		items = append(items, kv{"Network mode", d.NetworkMode})
	}
	for _, n := range slices.Sorted(maps.Keys(d.Networks)) {
		items = append(items, kv{"Network " + n, d.Networks[n]})
	}
	for _, m := range d.Mounts {
		ro := ""
		if m.ReadOnly {
			ro = " (read-only)"
		}
		items = append(items, kv{"Mount", m.Type + " " + m.Source + " → " + m.Destination + ro})
	}
	for _, k := range slices.Sorted(maps.Keys(d.Labels)) {
		items = append(items, kv{"Label " + k, d.Labels[k]})
	}
	return app.Section().Class("card").Aria("labelledby", "inspect-title").Body(
		app.H2().ID("inspect-title").Text("Inspect"),
		app.Dl().Class("kv").Body(
			app.Range(items).Slice(func(i int) app.UI {
				return app.Div().Body(app.Dt().Text(items[i].k), app.Dd().Class("mono").Text(items[i].v))
			}),
		),
	)
}
