package serverlog

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// timestampLayout is RFC 3339 with milliseconds, as /logs/ws sends it.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// Handler is an slog.Handler that passes every record on to another handler
// (the text log on stderr) and also keeps it, rendered for /logs/ws, in a
// Ring. Attributes with a secret-looking key are redacted in the ring; use
// Redact as the next handler's ReplaceAttr so they are in its output too.
type Handler struct {
	next  slog.Handler
	ring  *Ring
	level slog.Leveler
	// group is the dotted prefix of the groups opened with WithGroup, which
	// qualifies the keys of the record's own attributes.
	group string
	// attrs are the attributes of WithAttrs, already rendered: they are
	// fixed for this handler, so rendering them once saves every record
	// the work.
	attrs []byte
	// secret is set inside a group whose name is a secret key: everything
	// below it is redacted.
	secret bool
}

// NewHandler returns a handler keeping records at or above level in ring
// and passing them to next.
func NewHandler(next slog.Handler, ring *Ring, level slog.Leveler) *Handler {
	return &Handler{next: next, ring: ring, level: level}
}

// Enabled reports whether records at l are kept: the ring and the next
// handler share one minimum level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Handle keeps r in the ring and passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	msg := []byte(r.Message)
	msg = append(msg, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		msg = appendAttr(msg, h.group, a, h.secret)
		return true
	})
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	rec := Record{Severity: r.Level, LogRecord: wire.LogRecord{
		Level:     levelName(r.Level),
		Timestamp: t.UTC().Format(timestampLayout),
		Message:   string(msg),
	}}
	if r.PC != 0 {
		// The record's PC is its call site (slog skips its own frames), so
		// this names the line that logged, not this handler.
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		rec.File, rec.Line = filepath.Base(f.File), f.Line
	}
	h.ring.add(rec)
	if err := h.next.Handle(ctx, r); err != nil {
		return fmt.Errorf("log handler: %w", err)
	}
	return nil
}

// WithAttrs returns a handler whose records carry attrs as well.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.next = h.next.WithAttrs(attrs)
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.group, a, h.secret)
	}
	return &h2
}

// WithGroup returns a handler that qualifies the keys of later attributes
// with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.next = h.next.WithGroup(name)
	h2.group = h.group + name + "."
	h2.secret = h.secret || isSecret(name)
	return &h2
}
