package main

import (
	"encoding/json"
	"html"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Log view geometry. Lines have a fixed height (white-space: pre, no
// wrapping) so the view can render only the rows in sight: 10,000 lines cost
// as little to draw as 50.
const (
	maxLogLines   = 10000
	logLineHeight = 20 // px; the stylesheet's --log-line
	logOverscan   = 20 // rows drawn beyond each edge, so fast scrolling shows no gap
)

// logLine is one line of either viewer.
type logLine struct {
	stream string    // stdout, stderr; the level for server records
	at     time.Time // zero when the server sent none
	text   string    // as received, ANSI escapes included
	plain  string    // without escapes: what search and download use
	loc    string    // file:line of a server record
}

// logsPage is /logs: a container's output (?container=&host=) or, with
// ?view=server, crowsnest's own log records with a level filter.
type logsPage struct {
	app.Compo

	view       string // "container" or "server"
	host, id   string
	level      string
	containers []wire.ContainerSummary
	listNote   notice
	pick       string // the container selector's value: host + "\x00" + id

	lines     *ring[logLine]
	held      []logLine // arrived while paused
	incoming  batch[logLine]
	note      notice
	status    string
	paused    bool
	follow    bool
	showTimes bool
	search    string
	onlyMatch bool
	scrollTop float64
	viewH     float64
	work      pageStream // the stream, keyed by what the URL names
}

// OnMount loads the container list for the selector.
func (p *logsPage) OnMount(ctx app.Context) {
	p.follow, p.showTimes, p.viewH = true, true, 600
	ctx.Async(func() {
		list, err := apiContainers(ctx)
		if err != nil && !isStatus(err, 404) {
			app.Logf("containers: %v", err)
		}
		ctx.Dispatch(func(app.Context) {
			p.containers, p.listNote = list, noticeOf(err)
		})
	})
}

// OnNav opens the stream the URL names.
func (p *logsPage) OnNav(ctx app.Context) {
	q := ctx.Page().URL().Query()
	view := "container"
	if q.Get("view") == "server" {
		view = "server"
	}
	host, id, level := q.Get("host"), q.Get("container"), strings.ToUpper(q.Get("level"))
	if host == "" {
		host = "Localhost"
	}
	sctx, fresh := p.work.restart(ctx, view+"\x00"+host+"\x00"+id+"\x00"+level)
	if !fresh {
		return
	}
	p.view, p.host, p.id, p.level = view, host, id, level
	p.pick = host + "\x00" + id
	p.lines = newRing[logLine](maxLogLines)
	p.held, p.note, p.status = nil, notice{}, ""
	p.incoming.take()
	p.scrollTop = 0
	if view == "container" && id == "" {
		p.work.stop() // nothing chosen yet
		return
	}
	flush := func() { flushAfter(ctx, sctx, 120*time.Millisecond, p.flush) }
	s := stream{
		onNotice: func(n notice) { ctx.Dispatch(func(app.Context) { p.note = n }) },
		onOpen:   func() { ctx.Dispatch(func(app.Context) { p.status = "" }) },
	}
	if view == "server" {
		s.name = "server-logs"
		s.target = func() string {
			v := url.Values{"tail": {"1000"}}
			if level != "" {
				v.Set("level", strings.ToLower(level))
			}
			return serverLogsSocket(v)
		}
		s.onFrame = func(data []byte) {
			var rec wire.LogRecord
			if err := json.Unmarshal(data, &rec); err != nil {
				app.Logf("server logs: bad frame: %v", err)
				return
			}
			if rec.Level == "" {
				return // the greeting
			}
			at, _ := time.Parse(time.RFC3339Nano, rec.Timestamp)
			l := logLine{stream: strings.ToLower(rec.Level), at: at, text: rec.Message, plain: stripANSI(rec.Message)}
			if rec.File != "" {
				l.loc = rec.File + ":" + strconv.Itoa(rec.Line)
			}
			if p.incoming.add(l) {
				flush()
			}
		}
	} else {
		s.name = "container-logs"
		var last time.Time // touched only on the stream goroutine
		s.target = func() string {
			v := url.Values{"host": {host}, "timestamps": {"true"}}
			if last.IsZero() {
				v.Set("tail", "500")
			} else {
				v.Set("since", last.Add(time.Nanosecond).Format(time.RFC3339Nano))
				v.Set("tail", "all")
			}
			return containerLogsSocket(id, v)
		}
		s.onFrame = func(data []byte) {
			var ll wire.LogLine
			if err := json.Unmarshal(data, &ll); err != nil {
				app.Logf("container logs: bad frame: %v", err)
				return
			}
			if ll.Stream == "" {
				// Where a burst outran the socket, the server says how many
				// lines were skipped: shown in place, in the log.
				var skip wire.LogsSkipped
				if json.Unmarshal(data, &skip) == nil && skip.Skipped > 0 && p.incoming.add(logLine{stream: "skipped", at: last, text: skip.Message}) {
					flush()
				}
				var m wire.Message
				if json.Unmarshal(data, &m) == nil && m.Message != "" && m.Message != wire.ConnectionEstablished.Message {
					ctx.Dispatch(func(app.Context) { p.status = m.Message })
				}
				return
			}
			if ll.Timestamp.After(last) {
				last = ll.Timestamp
			}
			if p.incoming.add(logLine{stream: ll.Stream, at: ll.Timestamp, text: ll.Line}) {
				flush()
			}
		}
		s.onFrame = joinPartials(s.onFrame)
	}
	ctx.Async(func() { runWS(sctx, s) })
}

// joinPartials wraps a container-log frame handler so the pieces of a line
// split by the server (partial set on every piece but the last) reach it as
// one line.
func joinPartials(next func([]byte)) func([]byte) {
	pending := map[string]*wire.LogLine{}
	return func(data []byte) {
		var ll wire.LogLine
		if err := json.Unmarshal(data, &ll); err != nil || ll.Stream == "" {
			next(data)
			return
		}
		if prev := pending[ll.Stream]; prev != nil {
			prev.Line += ll.Line
			prev.Partial = ll.Partial
			ll = *prev
		}
		if ll.Partial {
			cp := ll
			pending[ll.Stream] = &cp
			return
		}
		delete(pending, ll.Stream)
		b, err := json.Marshal(ll)
		if err != nil {
			app.Logf("container logs: %v", err)
			return
		}
		next(b)
	}
}

// OnDismount stops the stream.
func (p *logsPage) OnDismount() {
	p.work.stop()
}

// flush moves arrived lines into the view (or the held list while paused).
func (p *logsPage) flush(ctx app.Context) {
	in := p.incoming.take()
	for i := range in {
		if in[i].plain == "" {
			in[i].plain = stripANSI(in[i].text)
		}
	}
	if p.paused {
		p.held = append(p.held, in...)
		if over := len(p.held) - maxLogLines; over > 0 {
			p.held = p.held[over:]
		}
		return
	}
	for _, l := range in {
		p.lines.push(l)
	}
	p.stickToEnd(ctx)
}

// stickToEnd scrolls to the newest line when following.
func (p *logsPage) stickToEnd(ctx app.Context) {
	if !p.follow {
		return
	}
	p.scrollTop = max(0, float64(len(p.visible()))*logLineHeight-p.viewH)
	ctx.Defer(func(app.Context) {
		if v := app.Window().GetElementByID("log-view"); v.Truthy() {
			v.Set("scrollTop", v.Get("scrollHeight"))
		}
	})
}

// visible is the indices of the lines the view shows: all, or the matching
// ones when "only matching" is on.
func (p *logsPage) visible() []int {
	n := p.lines.len()
	idx := make([]int, 0, n)
	q := p.search
	for i := 0; i < n; i++ {
		if p.onlyMatch && q != "" && len(matchRanges(p.lines.at(i).plain, q)) == 0 {
			continue
		}
		idx = append(idx, i)
	}
	return idx
}

// matchCount is how many lines match the search.
func (p *logsPage) matchCount() int {
	if p.search == "" {
		return 0
	}
	c := 0
	for i := 0; i < p.lines.len(); i++ {
		if len(matchRanges(p.lines.at(i).plain, p.search)) > 0 {
			c++
		}
	}
	return c
}

// download saves the lines as a text file through a Blob URL: no server
// round trip, and what is saved is what was received.
func (p *logsPage) download() {
	var b strings.Builder
	for i := 0; i < p.lines.len(); i++ {
		l := p.lines.at(i)
		if p.showTimes && !l.at.IsZero() {
			b.WriteString(l.at.Local().Format(time.RFC3339Nano) + " ")
		}
		if p.view == "server" {
			b.WriteString(strings.ToUpper(l.stream) + " ")
		}
		b.WriteString(l.plain)
		if l.loc != "" {
			b.WriteString(" (" + l.loc + ")")
		}
		b.WriteByte('\n')
	}
	name := "crowsnest.log"
	if p.view == "container" {
		name = p.id + ".log"
	}
	blob := app.Window().Get("Blob").New([]any{b.String()}, map[string]any{"type": "text/plain;charset=utf-8"})
	href := app.Window().Get("URL").Call("createObjectURL", blob)
	a := app.Window().Get("document").Call("createElement", "a")
	a.Set("href", href)
	a.Set("download", name)
	a.Call("click")
	app.Window().Get("URL").Call("revokeObjectURL", href)
}

// setQuery navigates to the page with q, which OnNav applies.
func (p *logsPage) setQuery(ctx app.Context, q url.Values) {
	u := *ctx.Page().URL()
	u.RawQuery = q.Encode()
	ctx.NavigateTo(&u)
}

// Render draws the page.
func (p *logsPage) Render() app.UI {
	return layout("logs",
		app.Div().Class("section-head").Body(
			app.H1().Text("Logs"),
			app.Div().Class("tabs").Role("tablist").Aria("label", "Log source").Body(
				app.A().ID("tab-container-logs").Role("tab").Aria("selected", p.view == "container").Class(tabClass(p.view == "container")).Href(pathLogs).Text("Containers"),
				app.A().ID("tab-server-logs").Role("tab").Aria("selected", p.view == "server").Class(tabClass(p.view == "server")).Href(pathLogs+"?view=server").Text("crowsnest server"),
			),
		),
		p.sourceBar(),
		noticeView("logs-notice", p.note),
		app.If(p.status != "", app.P().ID("logs-status").Class("notice notice-muted").Role("status").Text(p.status)),
		p.toolbar(),
		p.viewer(),
	)
}

func tabClass(active bool) string {
	if active {
		return "tab active"
	}
	return "tab"
}

// sourceBar picks the container, or the level for the server's records.
func (p *logsPage) sourceBar() app.UI {
	if p.view == "server" {
		return app.Div().Class("toolbar").Body(
			app.Label().For("log-level").Text("Minimum level"),
			app.Select().ID("log-level").Class("input").OnChange(func(ctx app.Context, e app.Event) {
				q := url.Values{"view": {"server"}}
				if v := ctx.JSSrc().Get("value").String(); v != "" {
					q.Set("level", v)
				}
				p.setQuery(ctx, q)
			}).Body(
				app.Range([]string{"", wire.LevelInfo, wire.LevelWarn, wire.LevelError}).Slice(func(i int) app.UI {
					lv := []string{"", wire.LevelInfo, wire.LevelWarn, wire.LevelError}[i]
					label := lv
					if lv == "" {
						label = "DEBUG (all)"
					}
					return app.Option().Value(lv).Selected(p.level == lv).Text(label)
				}),
			),
		)
	}
	return app.Form().Class("toolbar").Aria("label", "Container").OnSubmit(func(ctx app.Context, e app.Event) {
		e.PreventDefault()
		host, id, _ := strings.Cut(p.pick, "\x00")
		if id == "" {
			return
		}
		p.setQuery(ctx, url.Values{"host": {host}, "container": {id}})
	}).Body(
		app.Label().For("log-container").Text("Container"),
		app.If(len(p.containers) > 0,
			app.Select().ID("log-container").Class("input").OnChange(func(ctx app.Context, e app.Event) {
				p.pick = ctx.JSSrc().Get("value").String()
				host, id, _ := strings.Cut(p.pick, "\x00")
				p.setQuery(ctx, url.Values{"host": {host}, "container": {id}})
			}).Body(
				app.Option().Value("").Selected(p.id == "").Text("Choose a container…"),
				app.Range(p.containers).Slice(func(i int) app.UI {
					c := p.containers[i]
					v := c.Host + "\x00" + c.ID
					selected := c.Host == p.host && (c.ID == p.id || c.Name == p.id || strings.HasPrefix(c.ID, p.id) && p.id != "")
					return app.Option().Value(v).Selected(selected).Text(c.Name + " (" + c.Host + ", " + c.State + ")")
				}),
			),
		).Else(
			app.Input().Type("text").ID("log-container").Class("input").Placeholder("container name or ID").Value(p.id).
				OnInput(func(ctx app.Context, e app.Event) { p.pick = p.host + "\x00" + ctx.JSSrc().Get("value").String() }),
			app.Button().Type("submit").Class("btn").Text("Open"),
		),
	)
}

// toolbar holds the viewer's controls.
func (p *logsPage) toolbar() app.UI {
	pauseLabel := "Pause"
	if p.paused {
		pauseLabel = "Resume (" + itoa(len(p.held)) + " new)"
	}
	matches := ""
	if p.search != "" {
		matches = itoa(p.matchCount()) + " matching lines"
	}
	return app.Div().Class("toolbar").Role("toolbar").Aria("label", "Log view").Body(
		app.Input().Type("search").ID("log-search").Class("input").Placeholder("Search…").Aria("label", "Search the log").Value(p.search).
			OnInput(func(ctx app.Context, e app.Event) {
				p.search = ctx.JSSrc().Get("value").String()
				p.stickToEnd(ctx)
			}),
		app.Span().ID("log-matches").Class("muted small").Aria("live", "polite").Text(matches),
		checkbox("log-only-matching", "Only matching", p.onlyMatch, func(ctx app.Context, v bool) { p.onlyMatch = v; p.stickToEnd(ctx) }),
		checkbox("log-timestamps", "Timestamps", p.showTimes, func(ctx app.Context, v bool) { p.showTimes = v }),
		checkbox("log-follow", "Follow", p.follow, func(ctx app.Context, v bool) { p.follow = v; p.stickToEnd(ctx) }),
		app.Button().ID("log-pause").Class("btn").Aria("pressed", p.paused).Text(pauseLabel).OnClick(func(ctx app.Context, e app.Event) {
			p.paused = !p.paused
			if !p.paused {
				for _, l := range p.held {
					p.lines.push(l)
				}
				p.held = nil
				p.stickToEnd(ctx)
			}
		}),
		app.Button().ID("log-clear").Class("btn").Text("Clear").OnClick(func(ctx app.Context, e app.Event) {
			p.lines.reset()
			p.held = nil
			p.scrollTop = 0
		}),
		app.Button().ID("log-download").Class("btn").Text("Download").Disabled(p.lines == nil || p.lines.len() == 0).OnClick(func(ctx app.Context, e app.Event) {
			p.download()
		}),
	)
}

// checkbox is a labelled checkbox.
func checkbox(id, label string, checked bool, set func(app.Context, bool)) app.UI {
	return app.Label().Class("check").For(id).Body(
		app.Input().Type("checkbox").ID(id).Checked(checked).OnChange(func(ctx app.Context, e app.Event) {
			set(ctx, ctx.JSSrc().Get("checked").Bool())
		}),
		app.Span().Text(label),
	)
}

// viewer is the virtualised line list: a spacer as tall as every line, and
// only the rows in sight drawn at their offset.
func (p *logsPage) viewer() app.UI {
	if p.lines == nil || (p.view == "container" && p.id == "") {
		return app.P().Class("empty").Text("Choose a container to see its output.")
	}
	idx := p.visible()
	first := max(0, int(p.scrollTop/logLineHeight)-logOverscan)
	last := min(len(idx), int((p.scrollTop+p.viewH)/logLineHeight)+logOverscan)
	if first > last {
		first = last
	}
	rows := idx[first:last]
	return app.Div().
		ID("log-view").
		Class("logview").
		TabIndex(0).
		Role("log").
		Aria("label", "Log lines").
		DataSet("lines", len(idx)).
		OnScroll(func(ctx app.Context, e app.Event) {
			src := ctx.JSSrc()
			p.scrollTop = src.Get("scrollTop").Float()
			p.viewH = src.Get("clientHeight").Float()
			// Scrolling up stops following; back at the bottom resumes it.
			atEnd := p.scrollTop+p.viewH >= src.Get("scrollHeight").Float()-2*logLineHeight
			p.follow = atEnd
		}).
		Body(
			app.Div().Class("logview-inner").Style("height", strconv.Itoa(len(idx)*logLineHeight)+"px").Body(
				app.Div().Class("logview-rows").Style("transform", "translateY("+strconv.Itoa(first*logLineHeight)+"px)").Body(
					app.Range(rows).Slice(func(i int) app.UI {
						return app.Raw(p.rowHTML(p.lines.at(rows[i])))
					}),
				),
			),
			app.If(len(idx) == 0, app.P().Class("empty").Text("No lines yet.")),
		)
}

// rowHTML is one line of the view.
func (p *logsPage) rowHTML(l logLine) string {
	var b strings.Builder
	b.WriteString(`<div class="ln ln-` + l.stream + `">`)
	if p.showTimes && !l.at.IsZero() {
		b.WriteString(`<span class="ln-ts">` + l.at.Local().Format("2006-01-02 15:04:05.000") + `</span>`)
	}
	if p.view == "server" {
		b.WriteString(`<span class="ln-level">` + strings.ToUpper(l.stream) + `</span>`)
	}
	b.WriteString(`<span class="ln-text">` + lineHTML(parseANSI(l.text), p.search) + `</span>`)
	if l.loc != "" {
		b.WriteString(`<span class="ln-loc">` + html.EscapeString(l.loc) + `</span>`)
	}
	b.WriteString(`</div>`)
	return b.String()
}
