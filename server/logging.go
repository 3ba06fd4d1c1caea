package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/crowsnest-hq/crowsnest/internal/serverlog"
)

// newLogger logs text records at or above level to w and keeps them, for
// /logs/ws, in the ring it returns. Secret-looking attributes are redacted
// in both.
func newLogger(level string, w io.Writer) (*slog.Logger, *serverlog.Ring, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	text := slog.NewTextHandler(w, &slog.HandlerOptions{
		Level:       l,
		AddSource:   l <= slog.LevelDebug,
		ReplaceAttr: serverlog.Redact,
	})
	ring := serverlog.NewRing(serverlog.DefaultRingSize)
	return slog.New(serverlog.NewHandler(text, ring, l)), ring, nil
}
