package main

import (
	"fmt"
	"io"
	"log/slog"
)

// newLogger logs text records at or above level to w.
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l, AddSource: l <= slog.LevelDebug})), nil
}
