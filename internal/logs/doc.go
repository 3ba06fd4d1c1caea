// Package logs streams containers' output: one shared engine follow per
// container, demultiplexed, timestamped and split into bounded messages.
// crowsnest's own log records are package serverlog's.
package logs
