// Package wire holds the JSON shapes of every message crowsnest sends or
// accepts on its public endpoints. It is the one source of truth shared by the
// server and the web app, so it depends on nothing but the standard library.
package wire
