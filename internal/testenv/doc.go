// Package testenv is the harness every crowsnest test that needs a real
// Docker engine uses: it connects to the engine (skipping, or failing under
// CI=true, when there is none), builds and loads the helper image since no
// registry is reachable, runs labelled helper containers that are removed at
// the end, and offers a proxy that can cut the connection to the engine.
package testenv
