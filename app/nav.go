package main

import (
	"errors"
	"net/http"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// navItem is one entry of the navigation bar.
type navItem struct {
	id, label, path string
}

var navItems = []navItem{
	{"overview", "Overview", pathOverview},
	{"events", "Events", pathEvents},
	{"logs", "Logs", pathLogs},
	{"stacks", "Stacks", pathStacks},
	{"alerts", "Alerts", pathAlerts},
	{"store", "Event store", pathStore},
}

// layout is the frame of every page: the navigation bar (with the
// connection state and the offline banner) and the page's content.
func layout(active string, content ...app.UI) app.UI {
	return app.Div().Class("shell").Body(
		&navBar{Active: active},
		app.Main().ID("main").Class("page").Body(content...),
	)
}

// navBar is the top bar: brand, page links, connection indicator, and the
// banners for an unreachable server or a new version.
type navBar struct {
	app.Compo

	// Active is the id of the current page's entry.
	Active string

	state     connState
	detail    string
	updatable bool
	storeDown string // why the event store takes no events; "" when it does
}

// healthEvery is how often the bar asks /healthz whether the event store
// takes events.
const healthEvery = 15 * time.Second

// OnMount starts following the streams' connection state and the event
// store's health. The registry calls back from stream goroutines; Dispatch
// moves the change onto the UI goroutine.
func (n *navBar) OnMount(ctx app.Context) {
	n.updatable = ctx.AppUpdateAvailable()
	conns.watch(func(s connState, detail string) {
		ctx.Dispatch(func(app.Context) {
			n.state, n.detail = s, detail
		})
	})
	if app.IsClient { // not in tests run natively: there is no server to ask
		ctx.Async(func() { n.watchHealth(ctx) })
	}
}

// watchHealth asks /healthz until the bar goes away: a 503 names why the
// event store is unavailable (a replica whose NATS servers do not answer).
// An unreachable server is the offline banner's business.
func (n *navBar) watchHealth(ctx app.Context) {
	for {
		_, err := apiHealth(ctx)
		var ae *apiError
		down := ""
		if errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable {
			down = ae.Message
		}
		ctx.Dispatch(func(app.Context) { n.storeDown = down })
		select {
		case <-ctx.Done():
			return
		case <-time.After(healthEvery):
		}
	}
}

// OnDismount stops following: the next page's bar takes over.
func (n *navBar) OnDismount() {
	conns.watch(nil)
}

// OnAppUpdate shows the "new version" banner once the service worker has
// the new build.
func (n *navBar) OnAppUpdate(ctx app.Context) {
	n.updatable = ctx.AppUpdateAvailable()
}

// Render draws the bar.
func (n *navBar) Render() app.UI {
	return app.Header().Class("topbar").Body(
		app.A().Class("skip").Href("#main").Text("Skip to content"),
		app.Div().Class("topbar-inner").Body(
			app.A().Class("brand").Href(pathOverview).Aria("label", "crowsnest overview").Body(
				app.Img().Src("/web/icon.svg").Alt("").Width(28).Height(28),
				app.Span().Text("crowsnest"),
			),
			app.Nav().Aria("label", "Main").Body(
				app.Ul().Class("navlinks").Body(
					app.Range(navItems).Slice(func(i int) app.UI {
						it := navItems[i]
						a := app.A().ID("nav-" + it.id).Href(it.path).Text(it.label)
						if it.id == n.Active {
							a = a.Class("active").Aria("current", "page")
						}
						return app.Li().Body(a)
					}),
				),
			),
			app.Div().Class("topbar-end").Body(
				app.A().Class("apilink").Href(apiReferencePath).Text("API"),
				app.Span().
					ID("conn-state").
					Class("conn conn-"+n.state.String()).
					DataSet("state", n.state.String()).
					Role("status").
					Aria("live", "polite").
					Title(n.detail).
					Body(
						app.Span().Class("dot").Aria("hidden", "true"),
						app.Span().Class("conn-label").Text(n.state.String()),
					),
			),
		),
		app.If(n.state == connOffline,
			app.Div().ID("offline-banner").Class("banner banner-offline").Role("alert").Body(
				app.Strong().Text("The crowsnest server is unreachable. "),
				app.Span().Text("Retrying in the background; what you see may be out of date."),
			),
		),
		app.If(n.storeDown != "",
			app.Div().ID("store-banner").Class("banner banner-offline").Role("alert").Body(
				app.Strong().Text("New events are not being stored. "),
				app.Span().Text(n.storeDown+". crowsnest retries in the background; what you see is this replica's copy."),
			),
		),
		app.If(n.updatable,
			app.Div().Class("banner banner-update").Role("status").Body(
				app.Span().Text("A new version of crowsnest is ready. "),
				app.Button().Class("btn btn-small").Text("Reload").OnClick(func(ctx app.Context, e app.Event) {
					ctx.Reload()
				}),
			),
		),
	)
}
