package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// sparkSamples is how many samples a list sparkline shows: a minute at the
// default one-second interval.
const sparkSamples = 60

// containerRow is one container of the overview, with its recent samples.
type containerRow struct {
	host, id, name, image, state, status string
	cpu, mem                             *ring[float64]
	lastCPU, lastMem                     float64
	memBytes, memLimit                   uint64
	seen                                 time.Time // last stats frame or listing
	listed                               bool      // from /api/v1/containers at the last refresh
}

func rowKey(host, id string) string { return host + "/" + id }

// overviewPage is "/": the engines and every container with live charts.
type overviewPage struct {
	app.Compo

	hosts       sharedHosts
	rows        map[string]*containerRow
	listNote    notice // /api/v1/containers
	statsNote   notice // /docker/stats
	hostErrors  map[string]string
	filter      string
	sortKey     string
	sortDesc    bool
	feed        statsFeed
	started     bool
	listWorking bool // /api/v1/containers answered at least once

	session   wire.Session      // what the viewer may do: actions for admins
	busy      map[string]string // rowKey → the action under way on it
	actionErr string            // the last action's failure, with the engine's words
	actionOK  string            // the last action's success
	refresh   chan struct{}     // asks pollContainers for a listing now

	enginesPage int             // of the engine cards, 1-based
	groupsPage  int             // of the container groups, 1-based
	open        map[string]bool // a group's open state, once the user set it
}

// OnMount starts the refresh loops and the stats stream.
func (p *overviewPage) OnMount(ctx app.Context) {
	p.rows = map[string]*containerRow{}
	p.hostErrors = map[string]string{}
	p.busy = map[string]string{}
	p.open = map[string]bool{}
	p.refresh = make(chan struct{}, 1)
	p.readQuery(ctx.Page().URL())
	observeSession(ctx, &p.session)
	observeHosts(ctx, &p.hosts, overviewHostsEvery)
	ctx.Async(func() { p.pollHosts(ctx) })
	ctx.Async(func() { p.pollContainers(ctx) })
	onNotice := func(n notice) { ctx.Dispatch(func(app.Context) { p.statsNote = n }) }
	ctx.Async(func() { runWS(ctx, p.feed.socket(ctx, "stats", nil, 250*time.Millisecond, p.flushStats, onNotice)) })
}

// OnNav rereads the sort and filter from the URL (back/forward).
func (p *overviewPage) OnNav(ctx app.Context) {
	p.readQuery(ctx.Page().URL())
}

func (p *overviewPage) readQuery(u *url.URL) {
	q := u.Query()
	p.filter = q.Get("q")
	p.sortKey = q.Get("sort")
	if p.sortKey == "" {
		p.sortKey = "name"
	}
	p.sortDesc = q.Get("desc") == "1"
}

// writeQuery puts the sort and filter into the URL so the view is shareable.
func (p *overviewPage) writeQuery(ctx app.Context) {
	u := *ctx.Page().URL()
	q := url.Values{}
	if p.filter != "" {
		q.Set("q", p.filter)
	}
	if p.sortKey != "name" {
		q.Set("sort", p.sortKey)
	}
	if p.sortDesc {
		q.Set("desc", "1")
	}
	u.RawQuery = q.Encode()
	ctx.Page().ReplaceURL(&u)
}

// overviewHostsEvery is how often the overview rereads the engines, for
// their state.
const overviewHostsEvery = 10 * time.Second

// pollHosts refreshes the shared engines every overviewHostsEvery until the
// page closes.
func (p *overviewPage) pollHosts(ctx app.Context) {
	for sleepCtx(ctx, overviewHostsEvery) {
		refreshHosts(ctx, overviewHostsEvery)
	}
}

// pollContainers refreshes the container list every 10 s, and at once
// after an action: it names the containers that are not running (stats
// cover running ones), so a stopped container stays on the page with its
// Start button, and drops the removed ones.
func (p *overviewPage) pollContainers(ctx app.Context) {
	for {
		list, err := apiContainers(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil && !isStatus(err, 404) {
			app.Logf("containers: %v", err)
		}
		ctx.Dispatch(func(app.Context) {
			p.listNote = noticeOf(err)
			if err == nil {
				p.applyList(list, time.Now())
			}
		})
		wait := 10 * time.Second
		if isStatus(err, 404) {
			wait = time.Minute // not offered by this server: stats alone fill the list
		}
		select {
		case <-ctx.Done():
			return
		case <-p.refresh:
		case <-time.After(wait):
		}
	}
}

// act runs a container action and shows its outcome; the row's buttons are
// disabled, with a spinner on the one clicked, until the engine is done.
func (p *overviewPage) act(ctx app.Context, r *containerRow, a containerAction) {
	key, host, id, name := rowKey(r.host, r.id), r.host, r.id, r.name
	p.busy[key] = a.name
	p.actionErr, p.actionOK = "", ""
	ctx.Async(func() {
		err := apiContainerAction(ctx, host, id, a.name)
		if ctx.Err() != nil {
			return // the page closed; the next one reads the new state
		}
		ctx.Dispatch(func(app.Context) {
			delete(p.busy, key)
			if err != nil {
				p.actionErr = a.label + " " + name + " failed: " + describeErr(err)
				return
			}
			p.actionOK = actionDone(a.name, name)
			if row, ok := p.rows[key]; ok {
				row.state = actionState(a.name) // until the listing says more
			}
		})
		select {
		case p.refresh <- struct{}{}:
		default: // a refresh is already asked for
		}
	})
}

// applyList merges a container listing into the rows.
func (p *overviewPage) applyList(list []wire.ContainerSummary, now time.Time) {
	p.listWorking = true
	for _, r := range p.rows {
		r.listed = false
	}
	for _, c := range list {
		r := p.row(c.Host, c.ID)
		r.name, r.image, r.state, r.status, r.listed = c.Name, c.Image, c.State, c.Status, true
		r.seen = now
		if c.Stats != nil && r.cpu.len() == 0 {
			p.applyStats(*c.Stats, now)
		}
	}
	for k, r := range p.rows {
		if !r.listed {
			delete(p.rows, k)
		}
	}
}

// row finds or makes the row of a container.
func (p *overviewPage) row(host, id string) *containerRow {
	k := rowKey(host, id)
	r, ok := p.rows[k]
	if !ok {
		r = &containerRow{host: host, id: id, cpu: newRing[float64](sparkSamples), mem: newRing[float64](sparkSamples)}
		p.rows[k] = r
	}
	return r
}

// applyStats adds one sample.
func (p *overviewPage) applyStats(s wire.Stats, now time.Time) {
	r := p.row(s.HostID, s.ID)
	r.name, r.image, r.state, r.status = s.Name, s.Image, s.State, s.Status
	r.cpu.push(s.CPUUsage)
	r.mem.push(s.MemoryUsage)
	r.lastCPU, r.lastMem = s.CPUUsage, s.MemoryUsage
	r.memBytes, r.memLimit = s.MemoryBytes, s.MemoryLimit
	r.seen = now
	r.listed = true
	delete(p.hostErrors, s.HostID)
}

// flushStats applies the batch that arrived (on the UI goroutine).
func (p *overviewPage) flushStats(ctx app.Context) {
	stats, errs := p.feed.take()
	now := time.Now()
	for _, s := range stats {
		p.applyStats(s, now)
	}
	for _, e := range errs {
		p.hostErrors[e.HostID] = e.Error
	}
	if !p.listWorking {
		// Without the listing, a container that stopped sending is gone.
		for k, r := range p.rows {
			if now.Sub(r.seen) > 30*time.Second {
				delete(p.rows, k)
			}
		}
	}
}

// sortedRows is the rows that match the filter, in the chosen order.
func (p *overviewPage) sortedRows() []*containerRow {
	f := strings.ToLower(strings.TrimSpace(p.filter))
	out := make([]*containerRow, 0, len(p.rows))
	for _, r := range p.rows {
		if f == "" || strings.Contains(strings.ToLower(r.name+" "+r.image+" "+r.state+" "+r.host+" "+r.id), f) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *containerRow) int {
		c := compareRows(a, b, p.sortKey)
		if c == 0 {
			c = strings.Compare(a.name, b.name)
		}
		if p.sortDesc {
			return -c
		}
		return c
	})
	return out
}

// compareRows orders two rows by one column.
func compareRows(a, b *containerRow, key string) int {
	cmpF := func(x, y float64) int {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	switch key {
	case "image":
		return strings.Compare(a.image, b.image)
	case "state":
		return strings.Compare(a.state, b.state)
	case "host":
		return strings.Compare(a.host, b.host)
	case "cpu":
		return cmpF(a.lastCPU, b.lastCPU)
	case "mem":
		return cmpF(a.lastMem, b.lastMem)
	default:
		return strings.Compare(a.name, b.name)
	}
}

// Render draws the page.
func (p *overviewPage) Render() app.UI {
	rows := p.sortedRows()
	return layout("overview",
		app.H1().Text("Overview"),
		p.enginesView(),
		&topConsumers{},
		app.Section().Aria("labelledby", "containers-title").Body(
			app.Div().Class("section-head").Body(
				app.H2().ID("containers-title").Text("Containers"),
				app.Input().
					Type("search").
					ID("container-filter").
					Class("input").
					Placeholder("Filter by name, image, state, engine…").
					Aria("label", "Filter containers").
					Value(p.filter).
					OnInput(func(ctx app.Context, e app.Event) {
						p.filter = ctx.JSSrc().Get("value").String()
						p.groupsPage = 1
						p.writeQuery(ctx)
					}),
			),
			noticeView("stats-notice", p.statsNote),
			app.If(p.actionErr != "", app.P().ID("action-error").Class("notice notice-error").Role("alert").Text(p.actionErr)),
			app.If(p.actionOK != "", app.P().ID("action-ok").Class("notice notice-ok").Role("status").Text(p.actionOK)),
			app.If(p.listNote.kind != noticeNone && p.listNote.kind != noticeUnavailable, noticeView("list-notice", p.listNote)),
			p.containersView(rows),
		),
	)
}

// enginesView is the engines' summary and a page of their cards, the
// troubled ones first.
func (p *overviewPage) enginesView() app.UI {
	hosts := enginesInOrder(p.hosts.list, p.hostErrors)
	start, end, page, pages := pageBounds(len(hosts), enginesPerPage, p.enginesPage)
	shown := hosts[start:end]
	bad := 0
	for _, h := range hosts {
		if troubled(h, p.hostErrors[h.Name]) {
			bad++
		}
	}
	return app.Section().Aria("labelledby", "engines-title").Body(
		app.Div().Class("section-head").Body(
			app.H2().ID("engines-title").Text("Engines"),
			app.If(len(hosts) > 1, app.P().ID("engines-summary").Class("engines-summary").Body(
				app.Span().Class("badge").Text(itoa(len(hosts))+" engines"),
				app.Span().Class("badge badge-ok").Text(itoa(len(hosts)-bad)+" connected"),
				app.If(bad > 0, app.Span().Class("badge badge-bad").Text(itoa(bad)+" need a look")),
			)),
		),
		noticeView("hosts-notice", p.hosts.note),
		app.Div().Class("cards").ID("hosts").Body(
			app.Range(shown).Slice(func(i int) app.UI { return p.engineCard(shown[i]) }),
		),
		pagerView("engines-pager", "Engine pages", page, pages, func(n int) { p.enginesPage = n }),
	)
}

// engineCard is one engine: state, address, version, what it lacks.
func (p *overviewPage) engineCard(h wire.Host) app.UI {
	errText := h.Error
	if e := p.hostErrors[h.Name]; e != "" && errText == "" {
		errText = e
	}
	return app.Article().Class("card host").DataSet("host", h.Name).Body(
		app.Div().Class("card-head").Body(
			app.H3().Text(h.Name),
			app.Span().Class(stateClass(h.State)).Text(h.State),
		),
		app.P().Class("muted mono small truncate").Title(h.URL).Text(h.URL),
		app.If(h.Version != "", app.P().Class("small").Text(engineName(h.Engine)+" "+h.Version+" · API "+h.APIVersion)),
		app.If(errText != "", app.P().Class("small error-text").Text(errText)),
		hostNotes(h),
	)
}

// containersView is the containers table: with several engines, one
// collapsible group an engine, a page of groups at a time.
func (p *overviewPage) containersView(rows []*containerRow) app.UI {
	groups := groupRows(rows, p.hosts.list)
	grouped := len(groups) > 1
	start, end, page, pages := pageBounds(len(groups), groupsPerPage, p.groupsPage)
	shown := groups[start:end]
	cols := 6 // the engine's name heads its group, not a column
	if canAct(p.session) {
		cols++
	}
	return app.Div().Body(
		app.If(grouped, app.Div().Class("group-tools").Body(
			app.Span().ID("groups-summary").Class("small muted").Text(itoa(len(rows))+" containers on "+itoa(len(groups))+" engines"),
			app.Button().ID("groups-open").Class("btn btn-small").Text("Expand all").OnClick(func(ctx app.Context, e app.Event) {
				p.setAllOpen(groups, true)
			}),
			app.Button().ID("groups-close").Class("btn btn-small").Text("Collapse all").OnClick(func(ctx app.Context, e app.Event) {
				p.setAllOpen(groups, false)
			}),
		)),
		app.Div().Class("table-wrap").Body(
			app.Table().ID("containers").Class("table table-stack").Body(
				app.Caption().Class("sr-only").Text("Containers, live CPU and memory"),
				app.THead().Body(app.Tr().Body(
					p.sortHeader("name", "Name"),
					app.If(!grouped, p.sortHeader("host", "Host")),
					p.sortHeader("image", "Image"),
					p.sortHeader("state", "State"),
					app.Th().Scope("col").Text("Uptime"),
					p.sortHeader("cpu", "CPU"),
					p.sortHeader("mem", "Memory"),
					app.If(canAct(p.session), app.Th().Scope("col").Text("Actions")),
				)),
				app.Range(shown).Slice(func(i int) app.UI {
					return p.groupView(shown[i], grouped, len(groups), cols)
				}),
			),
			app.If(len(rows) == 0,
				app.P().Class("empty").Text(p.emptyText()),
			),
		),
		pagerView("groups-pager", "Container pages", page, pages, func(n int) { p.groupsPage = n }),
	)
}

// groupView is one engine's rows, under a header that opens and closes
// them when the table is grouped.
func (p *overviewPage) groupView(g engineGroup, grouped bool, groups, cols int) app.UI {
	open := !grouped || p.isOpen(g.host, groups)
	body := app.TBody().Class("group").DataSet("host", g.host)
	if !grouped {
		return body.Body(app.Range(g.rows).Slice(func(i int) app.UI { return p.rowView(g.rows[i], true) }))
	}
	arrow := "▸"
	if open {
		arrow = "▾"
	}
	return body.Body(
		app.Tr().Class("group-head").Body(
			app.Th().Scope("rowgroup").ColSpan(cols).Body(
				app.Button().Class("group-toggle").Aria("expanded", open).DataSet("host", g.host).
					OnClick(func(ctx app.Context, e app.Event) { p.toggle(g.host, groups) }).Body(
					app.Span().Class("group-arrow").Aria("hidden", "true").Text(arrow),
					app.Span().Class("group-name").Text(g.host),
					app.Span().Class("group-facts small muted").Text(groupFacts(g)),
				),
			),
		),
		app.If(open, app.Range(g.rows).Slice(func(i int) app.UI { return p.rowView(g.rows[i], false) })),
	)
}

// groupFacts is a group's summary line.
func groupFacts(g engineGroup) string {
	return fmt.Sprintf("%d of %d running · CPU %s · memory %s", g.running, len(g.rows), fmtPercent(g.cpu), fmtBytes(g.memory))
}

// isOpen reports whether host's group shows its rows: as the user set it,
// else open when a filter narrows the list or the groups are few.
func (p *overviewPage) isOpen(host string, groups int) bool {
	if o, ok := p.open[host]; ok {
		return o
	}
	return p.filter != "" || groups <= groupsOpenUpTo
}

// toggle opens or closes host's group.
func (p *overviewPage) toggle(host string, groups int) {
	p.open[host] = !p.isOpen(host, groups)
}

// setAllOpen opens or closes every group.
func (p *overviewPage) setAllOpen(groups []engineGroup, open bool) {
	for _, g := range groups {
		p.open[g.host] = open
	}
}

// pagerView is a previous/next pager; it renders nothing for one page.
func pagerView(id, label string, page, pages int, set func(int)) app.UI {
	if pages <= 1 {
		return nil
	}
	btn := func(suffix, text string, to int) app.UI {
		return app.Button().ID(id + "-" + suffix).Class("btn btn-small").Text(text).Disabled(to < 1 || to > pages).
			OnClick(func(ctx app.Context, e app.Event) { set(to) })
	}
	return app.Nav().ID(id).Class("pager").Aria("label", label).Body(
		btn("first", "« First", min(1, page-1)),
		btn("prev", "‹ Previous", page-1),
		app.Span().Class("small muted").Text("Page "+itoa(page)+" of "+itoa(pages)),
		btn("next", "Next ›", page+1),
		btn("last", "Last »", pagesIfNotLast(page, pages)),
	)
}

// pagesIfNotLast is the last page, or 0 (disabled) when on it.
func pagesIfNotLast(page, pages int) int {
	if page == pages {
		return 0
	}
	return pages
}

func (p *overviewPage) emptyText() string {
	switch {
	case p.filter != "" && len(p.rows) > 0:
		return "No container matches “" + p.filter + "”."
	case p.statsNote.kind == noticeUnavailable && p.listNote.kind == noticeUnavailable:
		return "Container listing and stats are not available on this server."
	default:
		return "No containers yet."
	}
}

// sortHeader is a column header that sorts by its column; a second click
// reverses the order.
func (p *overviewPage) sortHeader(key, label string) app.UI {
	sortAttr := "none"
	arrow := ""
	if p.sortKey == key {
		sortAttr, arrow = "ascending", " ▲"
		if p.sortDesc {
			sortAttr, arrow = "descending", " ▼"
		}
	}
	return app.Th().Scope("col").Aria("sort", sortAttr).Body(
		app.Button().ID("sort-" + key).Class("sort").Text(label + arrow).OnClick(func(ctx app.Context, e app.Event) {
			if p.sortKey == key {
				p.sortDesc = !p.sortDesc
			} else {
				p.sortKey, p.sortDesc = key, key == "cpu" || key == "mem"
			}
			p.writeQuery(ctx)
		}),
	)
}

// rowView is one container's row, with its engine's name when withHost
// (in a grouped table the group's header names it).
func (p *overviewPage) rowView(r *containerRow, withHost bool) app.UI {
	cpu, mem := r.cpu.slice(), r.mem.slice()
	link := containerLink(r.host, r.id)
	return app.Tr().DataSet("id", r.id).DataSet("state", r.state).Body(
		app.Td().Class("wide").Body(
			app.A().Href(link).Class("strong").Text(r.name),
			app.Div().Class("muted mono small").Text(shortID(r.id)),
		),
		app.If(withHost, app.Td().DataSet("label", "Host").Text(r.host)),
		app.Td().Class("mono small truncate").DataSet("label", "Image").Title(r.image).Text(r.image),
		app.Td().DataSet("label", "State").Body(app.Span().Class(stateClass(r.state)).Text(r.state)),
		app.Td().Class("small").DataSet("label", "Uptime").Text(r.status),
		app.Td().Class("metric").DataSet("label", "CPU").Body(
			app.Raw(sparklineSVG(cpu, sparkSamples, chartScale(cpu, sparkFloor), "cpu", "CPU of "+r.name+", last minute")),
			app.Span().Class("num").Text(metricText(r.cpu.len(), r.lastCPU)),
		),
		app.Td().Class("metric").DataSet("label", "Memory").Body(
			app.Raw(sparklineSVG(mem, sparkSamples, chartScale(mem, sparkFloor), "mem", "Memory of "+r.name+", last minute")),
			app.Span().Class("num").Title(fmtBytes(r.memBytes)+" of "+fmtBytes(r.memLimit)).Text(metricText(r.mem.len(), r.lastMem)),
		),
		app.If(canAct(p.session),
			app.Td().Class("actions-cell wide").Body(
				actionButtons(rowKey(r.host, r.id), "act-"+shortID(r.id)+"-", r.name, r.state, p.busy[rowKey(r.host, r.id)], true, func(ctx app.Context, a containerAction) {
					p.act(ctx, r, a)
				}),
			),
		),
	)
}

// metricText is the latest value, or a dash before the first sample.
func metricText(samples int, v float64) string {
	if samples == 0 {
		return "—"
	}
	return fmtPercent(v)
}

// engineName is how the engines card names a host's engine.
func engineName(kind string) string {
	if kind == wire.EnginePodman {
		return "Podman"
	}
	return "Docker"
}

// hostNotes shows what crowsnest cannot do on a host, and where the host
// does otherwise than Docker, each with the reason /api/v1/hosts gives.
func hostNotes(h wire.Host) app.UI {
	return app.Div().Class("host-notes").Body(
		app.Range(h.Unavailable).Slice(func(i int) app.UI {
			n := h.Unavailable[i]
			return app.P().Class("small").DataSet("unavailable", n.Feature).Body(
				app.Span().Class("badge badge-bad").Text(n.Feature+" unavailable"),
				app.Text(" "+n.Reason),
			)
		}),
		app.If(len(h.Differences) > 0, app.Details().Class("small").Body(
			app.Summary().Text(fmt.Sprintf("Differs from Docker (%d)", len(h.Differences))),
			app.Ul().Body(app.Range(h.Differences).Slice(func(i int) app.UI {
				n := h.Differences[i]
				return app.Li().DataSet("differs", n.Feature).Body(app.Strong().Text(n.Feature+": "), app.Text(n.Reason))
			})),
		)),
	)
}
