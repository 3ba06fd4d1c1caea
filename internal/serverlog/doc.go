// Package serverlog keeps crowsnest's own log records: an slog.Handler that
// passes each record on, redacts secret-looking attributes, and keeps the
// records in a bounded ring that publishes to a hub, for /logs/ws.
package serverlog
