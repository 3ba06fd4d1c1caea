package main

import (
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// maxEvents is how many events the page keeps: enough for a day of a busy
// host's starts and stops; older ones are in the store.
const maxEvents = 2000

// sinceChoices are the history windows offered: Go durations, which
// /events/ws accepts as "that long before now".
var sinceChoices = []struct{ value, label string }{
	{"", "Live only"},
	{"15m", "Last 15 minutes"},
	{"1h", "Last hour"},
	{"24h", "Last 24 hours"},
	{"168h", "Last 7 days"},
}

// eventsPage is /events: the live container-event stream with a filter
// builder that mirrors /events/ws's filters and lives in the URL.
type eventsPage struct {
	app.Compo

	filter   eventFilter // applied: the URL's
	draft    eventFilter // being edited in the form
	hosts    sharedHosts
	events   []wire.ContainerEvent // newest first
	note     notice
	incoming batch[wire.ContainerEvent]
	lastID   atomic.Uint64 // store id of the newest event seen, for resuming
	gaps     []wire.Gap    // where the record is not provably complete, newest first
	work     pageStream    // the stream, keyed by the filter's query
}

// OnMount follows the hosts for the host selector.
func (p *eventsPage) OnMount(ctx app.Context) {
	observeHosts(ctx, &p.hosts, hostsMaxAge)
}

// OnNav applies the URL's filter: a new filter restarts the stream.
func (p *eventsPage) OnNav(ctx app.Context) {
	f := eventFilterFromQuery(ctx.Page().URL().Query())
	sctx, fresh := p.work.restart(ctx, f.query().Encode())
	if !fresh {
		return
	}
	p.filter, p.draft = f, f
	p.events, p.note = nil, notice{}
	p.lastID.Store(0)
	p.incoming.take()
	p.loadGaps(ctx)
	ctx.Async(func() {
		runWS(sctx, stream{
			name: "events",
			target: func() string {
				return eventsSocket(f.socketQuery(p.lastID.Load()))
			},
			onFrame: func(data []byte) {
				var ev wire.ContainerEvent
				if err := json.Unmarshal(data, &ev); err != nil {
					app.Logf("events: bad frame: %v", err)
					return
				}
				if ev.Action == "" && ev.Type == "" {
					return // the greeting, if any
				}
				if ev.StoreID > p.lastID.Load() {
					p.lastID.Store(ev.StoreID)
				}
				if ev.Actor.Attributes[wire.ReconciledAttribute] != "" {
					p.loadGaps(ctx) // a reconciliation follows a new gap
				}
				if p.incoming.add(ev) {
					flushAfter(ctx, sctx, 100*time.Millisecond, func(app.Context) { p.flush() })
				}
			},
			onNotice: func(n notice) { ctx.Dispatch(func(app.Context) { p.note = n }) },
		})
	})
}

// OnDismount stops the stream.
func (p *eventsPage) OnDismount() {
	p.work.stop()
}

// flush puts the events that arrived on top of the list.
func (p *eventsPage) flush() {
	p.events = prependNewest(p.events, p.incoming.take(), maxEvents)
}

// apply navigates to the draft filter's URL, which OnNav then applies: the
// filter is always what the address bar says.
func (p *eventsPage) apply(ctx app.Context) {
	u := *ctx.Page().URL()
	u.RawQuery = p.draft.query().Encode()
	ctx.NavigateTo(&u)
}

// Render draws the page.
func (p *eventsPage) Render() app.UI {
	now := time.Now()
	return layout("events",
		app.H1().Text("Container events"),
		p.filterForm(),
		noticeView("events-notice", p.note),
		p.gapsView(),
		app.P().ID("events-summary").Class("muted small").Role("status").Text(p.summary()),
		app.Div().Class("table-wrap").Body(
			app.Table().ID("events-table").Class("table table-stack").Body(
				app.Caption().Class("sr-only").Text("Container events, newest first"),
				app.THead().Body(app.Tr().Body(
					app.Th().Scope("col").Text("Time"),
					app.Th().Scope("col").Text("Host"),
					app.Th().Scope("col").Text("Event"),
					app.Th().Scope("col").Text("Container"),
					app.Th().Scope("col").Text("Image"),
					app.Th().Scope("col").Text("Details"),
				)),
				app.TBody().Body(app.Range(p.events).Slice(func(i int) app.UI {
					ev := p.events[i]
					t := time.Unix(0, ev.TimeNano)
					if ev.TimeNano == 0 {
						t = time.Unix(ev.Time, 0)
					}
					return app.Tr().DataSet("action", ev.Action).Body(
						app.Td().Class("mono small nowrap").DataSet("label", "Time").Body(app.Time().DateTime(t.UTC().Format(time.RFC3339Nano)).Title(t.Local().Format(time.RFC1123)).Text(fmtClock(t, now))),
						app.Td().DataSet("label", "Host").Text(ev.Host),
						app.Td().DataSet("label", "Event").Body(app.Span().Class(actionClass(ev.Action)).Text(ev.Action)),
						app.Td().DataSet("label", "Container").Body(app.A().Href(containerLink(ev.Host, ev.Actor.ID)).Text(ev.Name())),
						app.Td().Class("mono small truncate").DataSet("label", "Image").Text(ev.Image()),
						app.Td().Class("small muted wide").DataSet("label", "Details").Body(
							app.Text(eventDetails(ev)),
							app.If(ev.Action == "die" || ev.Action == "destroy",
								app.A().Class("history-link").Href(statsHistoryLink(ev.Host, ev.Actor.ID, t, now)).Text("stats history"),
							),
						),
					)
				})),
			),
			app.If(len(p.events) == 0, app.P().Class("empty").Text("No events yet. Start or stop a container, or pick a history window above.")),
		),
	)
}

// maxGaps is how many of the newest gaps the page lists.
const maxGaps = 5

// loadGaps reads the newest gaps from the store.
func (p *eventsPage) loadGaps(ctx app.Context) {
	ctx.Async(func() {
		stored, err := apiNewestEvents(ctx, wire.GapEventType, maxGaps)
		if err != nil {
			app.Logf("gaps: %v", err)
			return
		}
		gaps := make([]wire.Gap, 0, len(stored))
		for _, e := range stored {
			var g wire.Gap
			if err := json.Unmarshal(e.Value, &g); err != nil {
				app.Logf("gap %d: %v", e.ID, err)
				continue
			}
			gaps = append(gaps, g)
		}
		ctx.Dispatch(func(app.Context) { p.gaps = gaps })
	})
}

// gapsView says plainly where the record has holes.
func (p *eventsPage) gapsView() app.UI {
	if len(p.gaps) == 0 {
		return nil
	}
	now := time.Now()
	return app.Div().ID("events-gaps").Class("notice notice-warn").Role("status").Body(
		app.Strong().Text("Gaps in the record. "),
		app.Span().Text("crowsnest cannot prove it holds every event in these windows; changes it found in the container list afterwards are marked reconciled."),
		app.Ul().Class("gap-list").Body(app.Range(p.gaps).Slice(func(i int) app.UI {
			g := p.gaps[i]
			return app.Li().DataSet("reason", g.Reason).Body(
				app.Strong().Text(g.Host+": "+gapReasonText(g.Reason)),
				app.Text(" · "+fmtClock(g.From, now)+" – "+fmtClock(g.To, now)),
			)
		})),
	)
}

// gapReasonText is a gap reason in words.
func gapReasonText(reason string) string {
	switch reason {
	case wire.GapEngineRestart:
		return "engine restarted"
	case wire.GapOutage:
		return "out of reach longer than the engine remembers"
	case wire.GapOverflow:
		return "crowsnest fell behind the engine"
	default:
		return reason
	}
}

func (p *eventsPage) summary() string {
	n := len(p.events)
	s := "Live"
	if p.filter.Since != "" {
		s = "History of the " + strings.ToLower(strings.TrimPrefix(sinceLabel(p.filter.Since), "Last ")) + ", then live"
	}
	switch {
	case n == 1:
		return s + " · 1 event"
	case n >= maxEvents:
		return s + " · the newest " + itoa(maxEvents) + " events"
	default:
		return s + " · " + itoa(n) + " events"
	}
}

func sinceLabel(v string) string {
	for _, c := range sinceChoices {
		if c.value == v {
			return c.label
		}
	}
	return "since " + v
}

// actionClass colours an action: failures red, starts green.
func actionClass(action string) string {
	a, _, _ := strings.Cut(action, ":")
	switch a {
	case "start", "unpause", "restart", "create":
		return "badge badge-ok"
	case "die", "oom", "kill", "destroy":
		return "badge badge-bad"
	case "stop", "pause", "health_status":
		return "badge badge-warn"
	default:
		return "badge"
	}
}

// eventDetails picks the attributes worth a glance: exit code, signal,
// health.
func eventDetails(ev wire.ContainerEvent) string {
	var parts []string
	for _, k := range []string{"exitCode", "signal", "health_status"} {
		if v, ok := ev.Actor.Attributes[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	if ev.Actor.ID != "" {
		parts = append(parts, shortID(ev.Actor.ID))
	}
	if ev.Actor.Attributes[wire.ReconciledAttribute] != "" {
		parts = append(parts, "reconciled after a gap")
	}
	return strings.Join(parts, " · ")
}

// filterForm is the filter builder.
func (p *eventsPage) filterForm() app.UI {
	return app.Form().ID("events-filter").Class("card filters").Aria("label", "Event filters").OnSubmit(func(ctx app.Context, e app.Event) {
		e.PreventDefault()
		p.apply(ctx)
	}).Body(
		app.Div().Class("filter-grid").Body(
			textField("f-container", "Container", "name or ID", "Several: separate with commas", strings.Join(p.draft.Containers, ", "), func(v string) { p.draft.Containers = splitList(v) }),
			textField("f-image", "Image", "nginx or nginx:1.27", "With or without a tag", strings.Join(p.draft.Images, ", "), func(v string) { p.draft.Images = splitList(v) }),
			textField("f-label", "Label", "key or key=value", "Several: all must match", strings.Join(p.draft.Labels, ", "), func(v string) { p.draft.Labels = splitList(v) }),
			app.Div().Class("field").Body(
				app.Label().For("f-host").Text("Host"),
				app.Select().ID("f-host").Class("input").OnChange(func(ctx app.Context, e app.Event) {
					v := ctx.JSSrc().Get("value").String()
					p.draft.Hosts = cleanValues([]string{v})
				}).Body(
					app.Option().Value("").Selected(len(p.draft.Hosts) == 0).Text("All hosts"),
					app.Range(p.hosts.list).Slice(func(i int) app.UI {
						h := p.hosts.list[i].Name
						return app.Option().Value(h).Selected(slices.Contains(p.draft.Hosts, h)).Text(h)
					}),
				),
			),
			app.Div().Class("field").Body(
				app.Label().For("f-since").Text("History"),
				app.Select().ID("f-since").Class("input").OnChange(func(ctx app.Context, e app.Event) {
					p.draft.Since = ctx.JSSrc().Get("value").String()
				}).Body(
					app.Range(sinceChoices).Slice(func(i int) app.UI {
						c := sinceChoices[i]
						return app.Option().Value(c.value).Selected(p.draft.Since == c.value).Text(c.label)
					}),
				),
			),
		),
		app.Details().Class("actions-picker").Body(
			app.Summary().Text(actionsSummary(p.draft.Events)),
			app.FieldSet().Body(
				app.Legend().Class("sr-only").Text("Docker actions"),
				app.Div().Class("chips").Body(
					app.Range(dockerActions).Slice(func(i int) app.UI {
						a := dockerActions[i]
						id := "f-event-" + a
						return app.Label().Class("chip").For(id).Body(
							app.Input().Type("checkbox").ID(id).Value(a).Checked(slices.Contains(p.draft.Events, a)).OnChange(func(ctx app.Context, e app.Event) {
								if ctx.JSSrc().Get("checked").Bool() {
									p.draft.Events = cleanValues(append(p.draft.Events, a))
								} else {
									p.draft.Events = slices.DeleteFunc(slices.Clone(p.draft.Events), func(s string) bool { return s == a })
								}
							}),
							app.Span().Text(a),
						)
					}),
				),
			),
		),
		app.Div().Class("form-actions").Body(
			app.Button().Type("submit").ID("f-apply").Class("btn btn-primary").Text("Apply filters"),
			app.Button().Type("button").ID("f-clear").Class("btn").Text("Clear").OnClick(func(ctx app.Context, e app.Event) {
				p.draft = eventFilter{}
				p.apply(ctx)
			}),
			app.Span().Class("muted small").Text("Without an event filter the stream carries start and stop."),
		),
	)
}

func actionsSummary(events []string) string {
	if len(events) == 0 {
		return "Events: start, stop (default)"
	}
	return "Events: " + strings.Join(events, ", ")
}

// textField is a labelled text input that reports every change. The
// placeholder is a short example that fits the input; the rules go in the
// hint under it, which stays visible while typing and which screen readers
// read with the input (aria-describedby).
func textField(id, label, placeholder, hint, value string, set func(string)) app.UI {
	return app.Div().Class("field").Body(
		app.Label().For(id).Text(label),
		app.Input().Type("text").ID(id).Class("input").Placeholder(placeholder).Aria("describedby", id+"-hint").Value(value).
			AutoComplete(false).
			OnInput(func(ctx app.Context, e app.Event) { set(ctx.JSSrc().Get("value").String()) }),
		app.Span().ID(id+"-hint").Class("hint").Text(hint),
	)
}

// statsHistoryLink is the container page showing the stats history around
// an event at t: the shortest range that reaches back to it, so the
// minutes before a container died are on the chart even after it is gone.
func statsHistoryLink(host, id string, t, now time.Time) string {
	rng := rangeChoices[len(rangeChoices)-1].name
	for _, c := range rangeChoices[1:] {
		if now.Sub(t) < c.span*9/10 {
			rng = c.name
			break
		}
	}
	return containerLink(host, id) + "?range=" + rng
}
