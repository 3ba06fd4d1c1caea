package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// storePerPage is the page size of the store list.
const storePerPage = 30

// maxLive is how many streamed events the live panel keeps.
const maxLive = 100

// storePage is /store: the event store's list with tag and type filters
// and pagination, a form to post an event, and the live stream.
type storePage struct {
	app.Compo

	tags []string
	typ  string
	page int

	draftTags, draftType string // the filter form's text, applied on submit
	events               []wire.Event
	total                int
	links                map[string]string
	listNote             notice

	formTags, formType, formValue string
	formErr, formOK               string
	busy                          bool

	live     []wire.Event
	liveNote notice
	incoming batch[wire.Event]
	work     pageStream // the stream, keyed by the filters
}

// OnNav reads the filters and page from the URL, reloads the list and
// (when the filters changed) reopens the stream.
func (p *storePage) OnNav(ctx app.Context) {
	q := ctx.Page().URL().Query()
	p.tags, p.typ = cleanValues(q["tag"]), strings.TrimSpace(q.Get("type"))
	p.draftTags, p.draftType = strings.Join(p.tags, ", "), p.typ
	p.page, _ = strconv.Atoi(q.Get("page"))
	p.page = max(p.page, 1)
	p.load(ctx)
	sctx, fresh := p.work.restart(ctx, strings.Join(p.tags, "\x00")+"\x00"+p.typ)
	if !fresh {
		return
	}
	p.live, p.liveNote = nil, notice{}
	p.incoming.take()
	fq := p.filterQuery()
	ctx.Async(func() {
		runSSE(sctx, sseStream{
			stream: stream{
				name:     "store-stream",
				target:   func() string { return eventStream(fq) },
				onNotice: func(n notice) { ctx.Dispatch(func(app.Context) { p.liveNote = n }) },
			},
			onEvent: func(ev sseEvent) {
				var e wire.Event
				if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
					app.Logf("store stream: bad event: %v", err)
					return
				}
				if p.incoming.add(e) {
					flushAfter(ctx, sctx, 100*time.Millisecond, func(app.Context) { p.flushLive() })
				}
			},
		})
	})
}

// OnDismount stops the stream.
func (p *storePage) OnDismount() {
	p.work.stop()
}

// flushLive puts the streamed events that arrived on top of the live panel.
func (p *storePage) flushLive() {
	p.live = prependNewest(p.live, p.incoming.take(), maxLive)
}

// filterQuery is the tag and type filter as the API reads it.
func (p *storePage) filterQuery() url.Values {
	q := url.Values{}
	for _, t := range p.tags {
		q.Add("tag", t)
	}
	if p.typ != "" {
		q.Set("type", p.typ)
	}
	return q
}

// load fetches the current page of the list.
func (p *storePage) load(ctx app.Context) {
	q := p.filterQuery()
	q.Set("page", strconv.Itoa(p.page))
	q.Set("per_page", strconv.Itoa(storePerPage))
	ctx.Async(func() {
		list, h, err := apiEvents(ctx, q)
		if err != nil {
			app.Logf("store: %v", err)
		}
		ctx.Dispatch(func(app.Context) {
			p.listNote = noticeOf(err)
			if err != nil {
				return
			}
			p.events = list
			p.total, _ = strconv.Atoi(h.Get("X-Total-Count"))
			p.links = parseLinkHeader(h.Get("Link"))
		})
	})
}

// go navigates to the list with the given filters and page.
func (p *storePage) goTo(ctx app.Context, tags []string, typ string, page int) {
	q := url.Values{}
	for _, t := range tags {
		q.Add("tag", t)
	}
	if typ != "" {
		q.Set("type", typ)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	u := *ctx.Page().URL()
	u.RawQuery = q.Encode()
	ctx.NavigateTo(&u)
}

// post stores the form's event.
func (p *storePage) post(ctx app.Context) {
	body := map[string]any{"tags": splitList(p.formTags)}
	if t := strings.TrimSpace(p.formType); t != "" {
		body["type"] = t
	}
	if v := strings.TrimSpace(p.formValue); v != "" {
		if !json.Valid([]byte(v)) {
			p.formErr, p.formOK = "The value is not valid JSON.", ""
			return
		}
		body["value"] = json.RawMessage(v)
	}
	p.busy, p.formErr, p.formOK = true, "", ""
	ctx.Async(func() {
		stored, err := apiPostEvent(ctx, body)
		ctx.Dispatch(func(ctx app.Context) {
			p.busy = false
			if err != nil {
				p.formErr = describeErr(err)
				return
			}
			p.formOK = "Stored as event " + strconv.FormatUint(stored.ID, 10) + "."
			p.load(ctx)
		})
	})
}

// Render draws the page.
func (p *storePage) Render() app.UI {
	return layout("store",
		app.H1().Text("Event store"),
		app.Div().Class("split").Body(
			app.Div().Class("split-main").Body(
				p.filterForm(),
				noticeView("store-notice", p.listNote),
				p.listView(),
				p.pager(),
			),
			app.Div().Class("split-side").Body(
				p.postForm(),
				p.liveView(),
			),
		),
	)
}

// filterForm edits the draft filter in the page's fields, not in locals of
// this function: go-app keeps the handlers mounted at the first render, so
// closures over locals would keep that render's values, and a filter set
// by a tag link would be submitted as the text typed before it.
func (p *storePage) filterForm() app.UI {
	return app.Form().ID("store-filter").Class("card filter-row").Aria("label", "Event store filters").OnSubmit(func(ctx app.Context, e app.Event) {
		e.PreventDefault()
		p.goTo(ctx, splitList(p.draftTags), strings.TrimSpace(p.draftType), 1)
	}).Body(
		app.Div().Class("field field-grow").Body(
			app.Label().For("store-tags").Text("Tags"),
			app.Input().Type("text").ID("store-tags").Class("input").Placeholder("deploy, env:prod").Aria("describedby", "store-tags-hint").Value(p.draftTags).
				AutoComplete(false).
				OnInput(func(ctx app.Context, e app.Event) { p.draftTags = ctx.JSSrc().Get("value").String() }),
			app.Span().ID("store-tags-hint").Class("hint").Text("All must match; env matches every env:…"),
		),
		app.Div().Class("field").Body(
			app.Label().For("store-type").Text("Type"),
			app.Input().Type("text").ID("store-type").Class("input input-narrow").Placeholder("any").Value(p.draftType).
				AutoComplete(false).
				OnInput(func(ctx app.Context, e app.Event) { p.draftType = ctx.JSSrc().Get("value").String() }),
		),
		app.Div().Class("field field-button").Body(
			app.Button().Type("submit").ID("store-apply").Class("btn btn-primary").Text("Filter"),
		),
	)
}

func (p *storePage) listView() app.UI {
	now := time.Now()
	return app.Div().Class("table-wrap").Body(
		app.Table().ID("store-table").Class("table table-stack").Body(
			app.Caption().Class("sr-only").Text("Stored events, newest first"),
			app.THead().Body(app.Tr().Body(
				app.Th().Scope("col").Text("ID"),
				app.Th().Scope("col").Text("Time"),
				app.Th().Scope("col").Text("Type"),
				app.Th().Scope("col").Text("Tags"),
				app.Th().Scope("col").Text("Value"),
			)),
			app.TBody().Body(app.Range(p.events).Slice(func(i int) app.UI {
				return eventRow(p.events[i], now)
			})),
		),
		app.If(len(p.events) == 0 && p.listNote.kind == noticeNone, app.P().Class("empty").Text("No stored events match.")),
	)
}

// eventRow is one stored event in a table.
func eventRow(e wire.Event, now time.Time) app.UI {
	return app.Tr().DataSet("id", e.ID).Body(
		app.Td().Class("mono small").DataSet("label", "ID").Text(strconv.FormatUint(e.ID, 10)),
		app.Td().Class("mono small nowrap").DataSet("label", "Time").Body(app.Time().DateTime(e.Timestamp.UTC().Format(time.RFC3339Nano)).Text(fmtClock(e.Timestamp, now))),
		app.Td().DataSet("label", "Type").Body(app.Span().Class("badge").Text(e.Type)),
		app.Td().Class("wide").DataSet("label", "Tags").Body(tagsView(e.Tags)),
		app.Td().Class("mono small truncate wide").DataSet("label", "Value").Title(valueTitle(e.Value)).Text(valueText(e.Value)),
	)
}

// tagsView shows an event's tags as links that filter the list by that tag.
func tagsView(tags []string) app.UI {
	shown := displayTags(tags)
	return app.Span().Class("tags").Body(app.Range(shown).Slice(func(i int) app.UI {
		t := shown[i]
		return app.A().Class("tag").Href(pathStore + "?" + url.Values{"tag": {t}}.Encode()).Title("Show events tagged " + t).Text(t)
	}))
}

// displayTags is the tags worth showing: the store keeps a:b also as a
// (so a filter on either finds it), and showing both says the same thing
// twice, so a plain tag is dropped when a combined one names it. Order is
// kept; a plain tag that stands alone stays.
func displayTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		covered := false
		if !strings.Contains(t, ":") {
			for _, o := range tags {
				if strings.HasPrefix(o, t+":") {
					covered = true
					break
				}
			}
		}
		if !covered {
			out = append(out, t)
		}
	}
	return out
}

// noValue reports whether an event carries no value worth showing: none,
// null, or the empty string a client sends for "nothing".
func noValue(v json.RawMessage) bool {
	s := strings.TrimSpace(string(v))
	return s == "" || s == "null" || s == `""`
}

// valueTitle is the full value for a cell's tooltip, or none.
func valueTitle(v json.RawMessage) string {
	if noValue(v) {
		return ""
	}
	return string(v)
}

// valueText is an event's value for a table cell: an em dash for none.
func valueText(v json.RawMessage) string {
	s := strings.TrimSpace(string(v))
	if noValue(v) {
		return "—"
	}
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// pager is the pagination from the Link header's relations.
func (p *storePage) pager() app.UI {
	pages := 1
	if last := linkPage(p.links["last"]); last > 0 {
		pages = last
	}
	btn := func(id, label, rel string) app.UI {
		target := linkPage(p.links[rel])
		// target is the handler's scope: go-app keeps a mounted handler
		// whose code and scope are unchanged, and the closure's target
		// changes with every page.
		return app.Button().ID(id).Class("btn btn-small").Text(label).Disabled(target == 0 || target == p.page).
			OnClick(func(ctx app.Context, e app.Event) { p.goTo(ctx, p.tags, p.typ, target) }, rel, target)
	}
	return app.Nav().Class("pager").Aria("label", "Pages").Body(
		btn("page-first", "« First", "first"),
		btn("page-prev", "‹ Previous", "prev"),
		app.Span().ID("page-info").Class("small muted").Text("Page "+itoa(p.page)+" of "+itoa(pages)+" · "+itoa(p.total)+" events"),
		btn("page-next", "Next ›", "next"),
		btn("page-last", "Last »", "last"),
	)
}

func (p *storePage) postForm() app.UI {
	return app.Form().ID("store-post").Class("card").Aria("label", "Post an event").OnSubmit(func(ctx app.Context, e app.Event) {
		e.PreventDefault()
		p.post(ctx)
	}).Body(
		app.H2().Text("Post an event"),
		app.Div().Class("field").Body(
			app.Label().For("post-tags").Text("Tags"),
			app.Input().Type("text").ID("post-tags").Class("input").Required(true).Placeholder("deploy:web, env:prod").Value(p.formTags).
				OnInput(func(ctx app.Context, e app.Event) { p.formTags = ctx.JSSrc().Get("value").String() }),
		),
		app.Div().Class("field").Body(
			app.Label().For("post-type").Text("Type"),
			app.Input().Type("text").ID("post-type").Class("input").Placeholder(wire.DefaultEventType).Pattern(`[\w-]+`).Value(p.formType).
				OnInput(func(ctx app.Context, e app.Event) { p.formType = ctx.JSSrc().Get("value").String() }),
		),
		app.Div().Class("field").Body(
			app.Label().For("post-value").Text("Value (JSON, optional)"),
			app.Textarea().ID("post-value").Class("input code").Rows(4).Spellcheck(false).Placeholder(`{"version": "1.4.2"}`).Text(p.formValue).
				OnInput(func(ctx app.Context, e app.Event) { p.formValue = ctx.JSSrc().Get("value").String() }),
		),
		app.If(p.formErr != "", app.P().ID("post-error").Class("notice notice-error").Role("alert").Text(p.formErr)),
		app.If(p.formOK != "", app.P().ID("post-ok").Class("notice notice-ok").Role("status").Text(p.formOK)),
		app.Button().Type("submit").ID("post-submit").Class("btn btn-primary").Disabled(p.busy).Text("Post event"),
	)
}

func (p *storePage) liveView() app.UI {
	now := time.Now()
	return app.Section().Class("card").Aria("labelledby", "live-title").Body(
		app.H2().ID("live-title").Text("Live stream"),
		noticeView("live-notice", p.liveNote),
		app.Ol().ID("store-live").Class("live-list").Aria("live", "polite").Body(
			app.Range(p.live).Slice(func(i int) app.UI {
				e := p.live[i]
				return app.Li().DataSet("id", e.ID).Body(
					app.Div().Body(
						app.Span().Class("badge").Text(e.Type),
						app.Span().Class("mono small muted").Text(" #"+strconv.FormatUint(e.ID, 10)+" · "+fmtClock(e.Timestamp, now)),
					),
					app.Div().Body(tagsView(e.Tags)),
					app.If(!noValue(e.Value), app.Div().Class("mono small live-value").Title(valueTitle(e.Value)).Text(valueText(e.Value))),
				)
			}),
		),
		app.If(len(p.live) == 0, app.P().Class("empty").Text("Waiting for events…")),
	)
}
