// Command app is crowsnest's web UI, compiled to WebAssembly (make wasm) and
// served by the crowsnest binary. It reads the same public sockets and REST
// endpoints any other client uses, and imports nothing of the server but the
// wire types.
//
// Built for the host (go build ./...), it compiles and does nothing: go-app
// runs the UI only in a browser.
package main

import (
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
	pathContainer = "/containers/" // + host + "/" + id
)

func main() {
	app.Route(pathOverview, &overviewPage{})
	app.Route(pathEvents, &eventsPage{})
	app.Route(pathLogs, &logsPage{})
	app.Route(pathStacks, &stacksPage{})
	app.Route(pathStore, &storePage{})
	app.RouteWithRegexp(`^/containers/[^/]+/[^/]+$`, &containerPage{})
	app.RunWhenOnBrowser()
}
