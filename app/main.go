// Command app is crowsnest's web UI, compiled to WebAssembly (make wasm) and
// served by the crowsnest binary. It reads the same public sockets and REST
// endpoints any other client uses, and imports nothing of the server but the
// wire types.
//
// Built for the host (go build ./...), it compiles and does nothing: go-app
// runs the UI only in a browser.
package main

import (
	"net/url"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// Page paths. The server registers the same list (server/ui.go) so it can
// pre-render them, and its service worker answers them offline.
const (
	pathOverview  = "/"
	pathEvents    = "/events"
	pathLogs      = "/logs"
	pathStacks    = "/stacks"
	pathStore     = "/store"
	pathAlerts    = "/alerts"
	pathContainer = "/containers/" // + host + "/" + id
)

// containerLink is the page of container id on host.
func containerLink(host, id string) string {
	return pathContainer + url.PathEscape(host) + "/" + url.PathEscape(id)
}

func main() {
	app.Route(pathOverview, &overviewPage{})
	app.Route(pathEvents, &eventsPage{})
	app.Route(pathLogs, &logsPage{})
	app.Route(pathStacks, &stacksPage{})
	app.Route(pathStore, &storePage{})
	app.Route(pathAlerts, &alertsPage{})
	app.RouteWithRegexp(`^/containers/[^/]+/[^/]+$`, &containerPage{})
	allowZoom()
	app.RunWhenOnBrowser()
}

// viewport is the page's viewport: go-app's page carries
// "maximum-scale=1, user-scalable=0", which stops pinch-zoom and so fails
// WCAG 1.4.4 for anyone who needs to enlarge text, and go-app v9.8.0's
// Handler has no setting for it (it is hard-coded, and RawHeaders can only
// add a tag, not replace it).
const viewport = "width=device-width, initial-scale=1, viewport-fit=cover"

// allowZoom rewrites the viewport meta tag as soon as the app runs;
// browsers apply a changed viewport at once. Until then (the loading
// screen) go-app's tag applies.
func allowZoom() {
	if !app.IsClient {
		return
	}
	meta := app.Window().Get("document").Call("querySelector", `meta[name="viewport"]`)
	if meta.Truthy() {
		meta.Call("setAttribute", "content", viewport)
	}
}
