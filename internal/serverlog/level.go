package serverlog

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// ParseLevel reads a minimum level as /logs/ws takes it: debug, info, warn
// (or warning) or error, in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q: want debug, info, warn or error", s)
}

// levelName maps any slog level onto the four names the socket uses, so a
// custom level such as WARN+2 still reads as one of them.
func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return wire.LevelError
	case l >= slog.LevelWarn:
		return wire.LevelWarn
	case l >= slog.LevelInfo:
		return wire.LevelInfo
	}
	return wire.LevelDebug
}
