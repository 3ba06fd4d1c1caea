package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// recentFirings is how many of the newest firings the page lists.
const recentFirings = 50

// alertKinds are the rule kinds with the facts their "when" reads, shown
// under the expression.
var alertKinds = []struct{ value, label, facts string }{
	{wire.AlertKindEvent, "Container event", "action, exitCode, stopped, oomKilled, health, name, image, labels"},
	{wire.AlertKindLog, "Log line", "line, stream, name, image, labels"},
	{wire.AlertKindStats, "Stats sample", "cpu, memory (percent), memoryBytes, name, image, labels"},
}

// ruleForm is the editor's rule as the API takes it. Durations stay text,
// so the server's message names a bad one.
type ruleForm struct {
	Name     string          `json:"name"`
	Enabled  bool            `json:"enabled"`
	Kind     string          `json:"kind"`
	Filters  json.RawMessage `json:"filters,omitempty"`
	When     string          `json:"when"`
	For      string          `json:"for,omitempty"`
	Count    int             `json:"count,omitempty"`
	Within   string          `json:"within,omitempty"`
	Cooldown string          `json:"cooldown,omitempty"`
	Notify   []string        `json:"notify"`
}

// firing is one stored alert with the outcomes of its deliveries.
type firing struct {
	id         uint64
	alert      wire.Alert
	deliveries []wire.AlertDelivery
}

// alertsPage is /alerts: the rules with their last firing, the editor
// (?id=N) or create form (?new=1, &preset=ID), presets, a test button, and
// the recent firings with their delivery state.
type alertsPage struct {
	app.Compo

	rules    []wire.AlertRule
	listNote notice
	presets  []wire.AlertPreset
	hosts    sharedHosts

	selected int64 // 0: none
	creating bool
	form     ruleForm
	filter   eventFilter // the form's filter builder
	notify   string      // the form's targets, one a line
	editor   editor
	tested   []wire.AlertDelivery

	firings     []firing
	firingsNote notice
	reload      reloader
}

// OnMount loads the presets, follows the hosts, and loads the lists now
// and every 15 s.
func (p *alertsPage) OnMount(ctx app.Context) {
	p.reload = newReloader()
	observeHosts(ctx, &p.hosts, hostsMaxAge)
	ctx.Async(func() {
		presets, err := apiAlertPresets(ctx)
		if err != nil {
			if ctx.Err() == nil { // not just the page closing
				app.Logf("alert presets: %v", err)
			}
			return
		}
		ctx.Dispatch(func(ctx app.Context) {
			p.presets = presets
			p.applyPreset(ctx.Page().URL().Query().Get("preset"))
		})
	})
	ctx.Async(func() { p.listLoop(ctx) })
}

// listLoop loads the rules (each with its last firing) and the recent
// firings now, on request, and every 15 s.
func (p *alertsPage) listLoop(ctx app.Context) {
	for {
		rules, err := apiAlerts(ctx)
		fs, ferr := loadFirings(ctx)
		if ctx.Err() != nil {
			return
		}
		ctx.Dispatch(func(ctx app.Context) {
			p.listNote, p.firingsNote = noticeOf(err), noticeOf(ferr)
			if err == nil {
				p.rules = rules
				if p.selected != 0 && p.form.Name == "" {
					p.select1(p.selected)
				}
			}
			if ferr == nil {
				p.firings = fs
			}
		})
		if !p.reload.wait(ctx, 0) {
			return
		}
	}
}

// loadFirings reads the newest alerts and the delivery outcomes recorded
// for them.
func loadFirings(ctx app.Context) ([]firing, error) {
	alerts, err := apiNewestEvents(ctx, wire.AlertEventType, recentFirings)
	if err != nil {
		return nil, err
	}
	deliveries, err := apiNewestEvents(ctx, wire.AlertDeliveryEventType, recentFirings*4)
	if err != nil {
		return nil, err
	}
	out := make([]firing, 0, len(alerts))
	index := make(map[uint64]int, len(alerts))
	for _, e := range alerts {
		var a wire.Alert
		if err := json.Unmarshal(e.Value, &a); err != nil {
			app.Logf("alert %d: %v", e.ID, err)
			continue
		}
		index[e.ID] = len(out)
		out = append(out, firing{id: e.ID, alert: a})
	}
	for _, e := range deliveries {
		var d wire.AlertDelivery
		if err := json.Unmarshal(e.Value, &d); err != nil {
			app.Logf("alert delivery %d: %v", e.ID, err)
			continue
		}
		if i, ok := index[d.AlertID]; ok {
			out[i].deliveries = append(out[i].deliveries, d)
		}
	}
	return out, nil
}

// OnNav selects the rule (or the create form) the URL names.
func (p *alertsPage) OnNav(ctx app.Context) {
	q := ctx.Page().URL().Query()
	id, _ := strconv.ParseInt(q.Get("id"), 10, 64)
	p.selected, p.creating = id, q.Get("new") == "1"
	p.editor.err, p.editor.ok, p.tested = "", "", nil
	p.form, p.filter, p.notify = ruleForm{Enabled: true, Kind: wire.AlertKindEvent}, eventFilter{}, ""
	if p.creating {
		p.applyPreset(q.Get("preset"))
	}
	if id != 0 {
		p.select1(id)
	}
}

// select1 fills the editor with rule id from the list (once loaded).
func (p *alertsPage) select1(id int64) {
	for _, r := range p.rules {
		if r.ID == id {
			p.fill(r)
		}
	}
}

// applyPreset fills the create form with a preset's rule.
func (p *alertsPage) applyPreset(id string) {
	if !p.creating || id == "" {
		return
	}
	for _, pr := range p.presets {
		if pr.ID == id {
			p.fill(pr.Rule)
			p.editor.ok = pr.Description + " Add where to send it, then Create."
		}
	}
}

// fill puts r into the form.
func (p *alertsPage) fill(r wire.AlertRule) {
	p.form = ruleForm{Name: r.Name, Enabled: r.Enabled, Kind: r.Kind, When: r.When, Count: r.Count,
		For: fmtDur(r.For), Within: fmtDur(r.Within), Cooldown: fmtDur(r.Cooldown)}
	p.filter = eventFilterFromJSON(r.Filters)
	p.notify = strings.Join(r.Notify, "\n")
}

// fmtDur writes a duration as a user types it: "5m", "1h30m", "" for none.
func fmtDur(d wire.Duration) string {
	if d == 0 {
		return ""
	}
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// body is the form as the API takes it: the filter builder's JSON (no
// event key but for event rules) and one target per non-empty line.
func (p *alertsPage) body() ruleForm {
	f := p.filter
	if p.form.Kind != wire.AlertKindEvent {
		f.Events = nil
	}
	out := p.form
	if j := f.filtersJSON(); j != "" {
		out.Filters = json.RawMessage(j)
	}
	out.Notify = []string{}
	for _, l := range strings.Split(p.notify, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out.Notify = append(out.Notify, l)
		}
	}
	return out
}

// send runs one REST call for the editor and shows its outcome under the
// form (see sendEditor).
func (p *alertsPage) send(ctx app.Context, method, path string, body any, done string, after func(app.Context, *wire.AlertRule)) {
	p.tested = nil
	sendEditor(ctx, &p.editor, p.reload, method, path, body, done, after)
}

// test sends the selected rule's test notification and shows each outcome.
func (p *alertsPage) test(ctx app.Context) {
	p.editor.busy, p.editor.err, p.editor.ok, p.tested = true, "", "", nil
	id := p.selected
	ctx.Async(func() {
		out, err := apiTestAlert(ctx, id)
		ctx.Dispatch(func(app.Context) {
			p.editor.busy = false
			if err != nil {
				p.editor.err = describeErr(err)
				return
			}
			p.tested = out
			if len(out) == 0 {
				p.editor.ok = "The rule has no targets to test."
			}
		})
	})
}

// Render draws the page.
func (p *alertsPage) Render() app.UI {
	return layout("alerts",
		app.Div().Class("section-head").Body(
			app.H1().Text("Alerts"),
			app.A().ID("alert-new").Class("btn btn-primary").Href(pathAlerts+"?new=1").Text("New rule"),
		),
		noticeView("alerts-notice", p.listNote),
		app.Div().Class("split").Body(
			p.rulesView(),
			app.Div().Class("split-main").Body(p.editorView()),
		),
		p.firingsView(),
	)
}

func (p *alertsPage) rulesView() app.UI {
	now := time.Now()
	return app.Div().Class("card stack-list").Body(
		app.Table().ID("alerts-table").Class("table").Body(
			app.Caption().Class("sr-only").Text("Alert rules"),
			app.THead().Body(app.Tr().Body(
				app.Th().Scope("col").Text("Rule"),
				app.Th().Scope("col").Text("Kind"),
				app.Th().Scope("col").Text("Last fired"),
			)),
			app.TBody().Body(app.Range(p.rules).Slice(func(i int) app.UI {
				r := p.rules[i]
				last := "never"
				if !r.LastFired.IsZero() {
					last = fmtAgo(r.LastFired, now)
				}
				state := app.UI(nil)
				if !r.Enabled {
					state = app.Span().Class("badge").Text("off")
				}
				return app.Tr().DataSet("rule", r.Name).Class(selectedClass(r.ID == p.selected)).Body(
					app.Td().Body(
						app.A().Href(pathAlerts+"?id="+strconv.FormatInt(r.ID, 10)).Text(r.Name), app.Text(" "), state,
						app.Div().Class("muted small mono truncate").Text(r.When),
					),
					app.Td().Class("small").Text(r.Kind),
					app.Td().Class("small nowrap").DataSet("last", last).Text(last),
				)
			})),
		),
		app.If(len(p.rules) == 0 && p.listNote.kind == noticeNone, app.P().Class("empty").Text("No rules yet. Start from a preset or create one with New rule.")),
	)
}

// editorView is the create form, the selected rule's editor, or the
// presets when neither.
func (p *alertsPage) editorView() app.UI {
	if !p.creating && p.selected == 0 {
		return p.presetsView()
	}
	title := "New rule"
	if !p.creating {
		title = p.form.Name
	}
	return app.Form().ID("alert-form").Class("card").Aria("label", title).OnSubmit(func(ctx app.Context, e app.Event) {
		e.PreventDefault()
		if p.creating {
			p.send(ctx, http.MethodPost, apiAlertsPath, p.body(), "Rule created.", func(ctx app.Context, r *wire.AlertRule) {
				ctx.Navigate(pathAlerts + "?id=" + strconv.FormatInt(r.ID, 10))
			})
			return
		}
		p.send(ctx, http.MethodPut, apiAlertPath(p.selected), p.body(), "Saved.", nil)
	}).Body(
		app.H2().Text(title),
		app.If(p.creating && len(p.presets) > 0,
			app.Div().Class("field").Body(
				app.Span().Class("hint").Text("Start from a preset:"),
				app.Div().Class("chips").Body(app.Range(p.presets).Slice(func(i int) app.UI {
					pr := p.presets[i]
					return app.A().Class("chip").ID("preset-" + pr.ID).Href(pathAlerts + "?new=1&preset=" + pr.ID).Title(pr.Description).Text(pr.Title)
				})),
			),
		),
		app.Div().Class("filter-grid").Body(
			textField("alert-name", "Name", "crash", "Shown in every notification", p.form.Name, func(v string) { p.form.Name = v }),
			app.Div().Class("field").Body(
				app.Label().For("alert-kind").Text("Watches"),
				app.Select().ID("alert-kind").Class("input").OnChange(func(ctx app.Context, e app.Event) {
					p.form.Kind = ctx.JSSrc().Get("value").String()
				}).Body(app.Range(alertKinds).Slice(func(i int) app.UI {
					k := alertKinds[i]
					return app.Option().Value(k.value).Selected(p.form.Kind == k.value).Text(k.label)
				})),
			),
			app.Div().Class("field field-button").Body(
				app.Label().Class("check").Body(
					app.Input().Type("checkbox").ID("alert-enabled").Checked(p.form.Enabled).OnChange(func(ctx app.Context, e app.Event) {
						p.form.Enabled = ctx.JSSrc().Get("checked").Bool()
					}),
					app.Span().Text("Enabled"),
				),
			),
		),
		app.Div().Class("field").Body(
			app.Label().For("alert-when").Text("When"),
			app.Textarea().ID("alert-when").Class("input code").Rows(2).Spellcheck(false).Aria("describedby", "alert-when-hint").Text(p.form.When).
				OnInput(func(ctx app.Context, e app.Event) { p.form.When = ctx.JSSrc().Get("value").String() }),
			app.Span().ID("alert-when-hint").Class("hint").Text("An expr-lang expression over: "+kindFacts(p.form.Kind)),
		),
		p.filterView(),
		app.Div().Class("filter-grid").Body(
			textField("alert-for", "For", "5m", "Fire once the condition held this long (event, stats)", p.form.For, func(v string) { p.form.For = strings.TrimSpace(v) }),
			app.Div().Class("field").Body(
				app.Label().For("alert-count").Text("Count"),
				app.Input().Type("number").ID("alert-count").Class("input").Min(0).Aria("describedby", "alert-count-hint").Value(countText(p.form.Count)).
					OnInput(func(ctx app.Context, e app.Event) {
						p.form.Count, _ = strconv.Atoi(ctx.JSSrc().Get("value").String())
					}),
				app.Span().ID("alert-count-hint").Class("hint").Text("Fire on this many matches…"),
			),
			textField("alert-within", "Within", "5m", "…within this window", p.form.Within, func(v string) { p.form.Within = strings.TrimSpace(v) }),
			textField("alert-cooldown", "Cooldown", "15m", "Quiet time after a firing, per container", p.form.Cooldown, func(v string) { p.form.Cooldown = strings.TrimSpace(v) }),
		),
		app.Div().Class("field").Body(
			app.Label().For("alert-notify").Text("Notify"),
			app.Textarea().ID("alert-notify").Class("input code").Rows(3).Spellcheck(false).Aria("describedby", "alert-notify-hint").
				Placeholder("https://hooks.example.com/crowsnest\nntfy://ntfy.sh/my-topic").Text(p.notify).
				OnInput(func(ctx app.Context, e app.Event) { p.notify = ctx.JSSrc().Get("value").String() }),
			app.Span().ID("alert-notify-hint").Class("hint").Text("One URL a line: an http(s) webhook receives the alert as JSON; Shoutrrr URLs (ntfy, slack, discord, telegram, smtp…) get its message."),
		),
		app.If(p.editor.err != "", app.Pre().ID("alert-error").Class("notice notice-error").Role("alert").Text(p.editor.err)),
		app.If(p.editor.ok != "", app.P().ID("alert-ok").Class("notice notice-ok").Role("status").Text(p.editor.ok)),
		testedView(p.tested),
		app.Div().Class("form-actions").Body(
			app.If(p.creating,
				app.Button().Type("submit").ID("alert-create").Class("btn btn-primary").Disabled(p.editor.busy).Text("Create"),
			).Else(
				app.Button().Type("submit").ID("alert-save").Class("btn btn-primary").Disabled(p.editor.busy).Text("Save"),
				app.Button().Type("button").ID("alert-test").Class("btn").Disabled(p.editor.busy).Text("Send test").
					OnClick(func(ctx app.Context, e app.Event) { p.test(ctx) }),
				app.Button().Type("button").ID("alert-delete").Class("btn btn-danger").Disabled(p.editor.busy).Text("Delete").
					OnClick(func(ctx app.Context, e app.Event) {
						if !app.Window().Call("confirm", "Delete the rule "+p.form.Name+"?").Bool() {
							return
						}
						p.send(ctx, http.MethodDelete, apiAlertPath(p.selected), nil, "", func(ctx app.Context, _ *wire.AlertRule) {
							ctx.Navigate(pathAlerts)
						})
					}),
			),
		),
	)
}

func kindFacts(kind string) string {
	for _, k := range alertKinds {
		if k.value == kind {
			return k.facts
		}
	}
	return ""
}

func countText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// filterView is the events page's filter builder for the rule's
// containers; the actions only for event rules.
func (p *alertsPage) filterView() app.UI {
	return app.FieldSet().Class("alert-filters").Body(
		app.Legend().Text("Containers (all when empty)"),
		app.Div().Class("filter-grid").Body(
			textField("alert-f-container", "Container", "name or ID", "Several: separate with commas", strings.Join(p.filter.Containers, ", "), func(v string) { p.filter.Containers = splitList(v) }),
			textField("alert-f-image", "Image", "nginx or nginx:1.27", "With or without a tag", strings.Join(p.filter.Images, ", "), func(v string) { p.filter.Images = splitList(v) }),
			textField("alert-f-label", "Label", "key or key=value", "Several: all must match", strings.Join(p.filter.Labels, ", "), func(v string) { p.filter.Labels = splitList(v) }),
			app.Div().Class("field").Body(
				app.Label().For("alert-f-host").Text("Host"),
				app.Select().ID("alert-f-host").Class("input").OnChange(func(ctx app.Context, e app.Event) {
					p.filter.Hosts = cleanValues([]string{ctx.JSSrc().Get("value").String()})
				}).Body(
					app.Option().Value("").Selected(len(p.filter.Hosts) == 0).Text("All hosts"),
					app.Range(p.hosts.list).Slice(func(i int) app.UI {
						h := p.hosts.list[i].Name
						return app.Option().Value(h).Selected(slices.Contains(p.filter.Hosts, h)).Text(h)
					}),
				),
			),
		),
		app.If(p.form.Kind == wire.AlertKindEvent,
			app.Details().Class("actions-picker").Body(
				app.Summary().Text(ruleActionsSummary(p.filter.Events)),
				app.Div().Class("chips").Body(
					app.Range(dockerActions).Slice(func(i int) app.UI {
						a := dockerActions[i]
						id := "alert-f-event-" + a
						return app.Label().Class("chip").For(id).Body(
							app.Input().Type("checkbox").ID(id).Value(a).Checked(slices.Contains(p.filter.Events, a)).OnChange(func(ctx app.Context, e app.Event) {
								if ctx.JSSrc().Get("checked").Bool() {
									p.filter.Events = cleanValues(append(p.filter.Events, a))
								} else {
									p.filter.Events = slices.DeleteFunc(slices.Clone(p.filter.Events), func(s string) bool { return s == a })
								}
							}),
							app.Span().Text(a),
						)
					}),
				),
			),
		),
	)
}

func ruleActionsSummary(events []string) string {
	if len(events) == 0 {
		return "Events: every action"
	}
	return "Events: " + strings.Join(events, ", ")
}

// testedView lists a test notification's outcome per target.
func testedView(out []wire.AlertDelivery) app.UI {
	if len(out) == 0 {
		return nil
	}
	return app.Ul().ID("alert-tested").Class("delivery-list").Body(app.Range(out).Slice(func(i int) app.UI {
		return deliveryItem(out[i])
	}))
}

// deliveryItem is one target's outcome.
func deliveryItem(d wire.AlertDelivery) app.UI {
	badge := app.Span().Class("badge badge-ok").Text("delivered")
	if !d.OK {
		badge = app.Span().Class("badge badge-bad").Text("failed")
	}
	detail := ""
	if !d.OK {
		detail = d.Error
		if d.Attempts > 1 {
			detail = itoa(d.Attempts) + " attempts: " + detail
		}
	}
	return app.Li().DataSet("ok", strconv.FormatBool(d.OK)).Body(
		badge,
		app.Span().Class("mono small").Text(d.Target),
		app.If(detail != "", app.Span().Class("small muted").Text(detail)),
	)
}

// presetsView offers the presets when no rule is selected.
func (p *alertsPage) presetsView() app.UI {
	return app.Div().Class("card").Body(
		app.H2().Text("Presets"),
		app.P().Class("muted small").Text("Ready-made rules: pick one, narrow it to the containers you care about and say where to send it."),
		app.Ul().ID("alert-presets").Class("preset-list").Body(app.Range(p.presets).Slice(func(i int) app.UI {
			pr := p.presets[i]
			return app.Li().Body(
				app.A().Href(pathAlerts+"?new=1&preset="+pr.ID).Text(pr.Title),
				app.Span().Class("small muted").Text(pr.Description),
			)
		})),
	)
}

// firingsView lists the recent firings with each target's delivery.
func (p *alertsPage) firingsView() app.UI {
	now := time.Now()
	return app.Section().Aria("labelledby", "firings-title").Body(
		app.H2().ID("firings-title").Text("Recent firings"),
		noticeView("firings-notice", p.firingsNote),
		app.Div().Class("table-wrap").Body(
			app.Table().ID("firings-table").Class("table table-stack").Body(
				app.Caption().Class("sr-only").Text("Alerts fired, newest first"),
				app.THead().Body(app.Tr().Body(
					app.Th().Scope("col").Text("Time"),
					app.Th().Scope("col").Text("Rule"),
					app.Th().Scope("col").Text("Container"),
					app.Th().Scope("col").Text("Message"),
					app.Th().Scope("col").Text("Delivery"),
				)),
				app.TBody().Body(app.Range(p.firings).Slice(func(i int) app.UI {
					f := p.firings[i]
					a := f.alert
					ctr := app.UI(app.Span().Class("muted").Text("—"))
					if a.Container.ID != "" {
						ctr = app.A().Href(containerLink(a.Host, a.Container.ID)).Text(a.Container.Name)
					}
					return app.Tr().DataSet("rule", a.Rule).Body(
						app.Td().Class("mono small nowrap").DataSet("label", "Time").Body(app.Time().DateTime(a.Time.UTC().Format(time.RFC3339Nano)).Title(a.Time.Local().Format(time.RFC1123)).Text(fmtClock(a.Time, now))),
						app.Td().DataSet("label", "Rule").Text(a.Rule),
						app.Td().DataSet("label", "Container").Body(ctr, app.Div().Class("muted small").Text(a.Host)),
						app.Td().Class("small wide").DataSet("label", "Message").Text(a.Message),
						app.Td().Class("wide").DataSet("label", "Delivery").Body(deliveriesView(f.deliveries)),
					)
				})),
			),
			app.If(len(p.firings) == 0 && p.firingsNote.kind == noticeNone, app.P().Class("empty").Text("Nothing has fired yet.")),
		),
	)
}

// deliveriesView is a firing's delivery state: an outcome per target
// recorded so far, or pending while none is.
func deliveriesView(ds []wire.AlertDelivery) app.UI {
	if len(ds) == 0 {
		return app.Span().Class("badge badge-warn").Title("No outcome recorded yet: the delivery is queued or being retried, or the rule has no targets").Text("pending")
	}
	return app.Ul().Class("delivery-list").Body(app.Range(ds).Slice(func(i int) app.UI {
		return deliveryItem(ds[i])
	}))
}
