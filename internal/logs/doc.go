// Package logs holds crowsnest's two kinds of log streams: its own records
// (an slog.Handler that also keeps a bounded ring and publishes to a hub, for
// /logs/ws) and containers' output (one shared engine follow per container,
// demultiplexed, timestamped and split into bounded messages).
package logs
