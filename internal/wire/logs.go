package wire

import "time"

// Log levels as /logs/ws names them.
const (
	LevelDebug = "DEBUG"
	LevelInfo  = "INFO"
	LevelWarn  = "WARN"
	LevelError = "ERROR"
)

// LogRecord is one of crowsnest's own log records as the DockStat Logging
// Socket (/logs/ws) sends it. Timestamp is RFC 3339 in UTC with
// milliseconds; File is the base name of the call site's source file and
// Line its line; Message carries the record's attributes rendered key=value
// after the message, so the cause of an error is visible.
type LogRecord struct {
	Level     string `json:"level"`
	Timestamp string `json:"timestamp"`
	Message   string `json:"message"`
	File      string `json:"file"`
	Line      int    `json:"line"`
}

// Container log streams.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// LogLine is one line of a container's output as
// /api/v1/containers/{id}/logs/ws sends it. Stream is "stdout" or "stderr"
// ("stdout" for a TTY container, whose streams the engine merges).
// Timestamp is the engine's, omitted when the client asked for
// timestamps=false. Line is the text without its line ending, ANSI escapes
// untouched. A line too long for one message is split: every piece but the
// last has Partial set, and the next message of the same stream continues it.
type LogLine struct {
	Stream    string    `json:"stream"`
	Timestamp time.Time `json:"timestamp,omitzero"`
	Line      string    `json:"line"`
	Partial   bool      `json:"partial,omitempty"`
}

// LogsSkipped is the frame a container log socket sends where a viewer fell
// a whole queue behind during a burst: instead of being cut off, it is told
// how many lines it missed and the since= that reads them again, and the
// live lines go on. Message says the same for clients that show any
// {"message"} frame.
type LogsSkipped struct {
	Message string `json:"message"`
	Skipped uint64 `json:"skipped"`
	// Since is the since= value, Unix seconds with nanoseconds, that
	// resumes after the last line sent; empty when none was.
	Since string `json:"since,omitempty"`
}
