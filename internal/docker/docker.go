// Package docker keeps one connection and one events subscription per
// configured engine, reconnecting with backoff and resuming where the last
// seen event left off, and reports each engine's state.
package docker
