package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// defaultLogTail is how many recent records /logs/ws sends first when the
// client does not say.
const defaultLogTail = 100

// logsEndpoint labels /logs/ws in metrics.
const logsEndpoint = "logs_ws"

// handleLogsWS serves the DockStat Logging Socket: crowsnest's own log
// records, a backlog of recent ones (oldest first, so the stream reads in
// time order) and then live ones, at or above a minimum level.
func (s *Server) handleLogsWS(w http.ResponseWriter, r *http.Request) {
	if s.logs == nil {
		writeError(w, http.StatusServiceUnavailable, "server log records are not kept")
		return
	}
	minLevel, tail, err := parseLogsQuery(r, s.logs.Cap())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.serveSocket(w, r, logsEndpoint, func(ctx context.Context, conn *websocket.Conn) (websocket.StatusCode, string) {
		return s.streamLogs(ctx, conn, minLevel, tail)
	})
}

// parseLogsQuery reads level (minimum, default debug: everything kept) and
// tail (default defaultLogTail; above the ring size it is the ring size).
func parseLogsQuery(r *http.Request, ringSize int) (slog.Level, int, error) {
	q := r.URL.Query()
	minLevel := slog.LevelDebug
	if v := q.Get("level"); v != "" {
		l, err := logs.ParseLevel(v)
		if err != nil {
			return 0, 0, fmt.Errorf("level: %w", err)
		}
		minLevel = l
	}
	tail := defaultLogTail
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, fmt.Errorf("tail: %q is not a non-negative integer", v)
		}
		tail = n
	}
	return minLevel, min(tail, ringSize), nil
}

// streamLogs sends the greeting, the backlog and live records until the
// client leaves or falls behind. It returns how to close.
func (s *Server) streamLogs(ctx context.Context, conn *websocket.Conn, minLevel slog.Level, tail int) (websocket.StatusCode, string) {
	// Subscribe before reading the backlog: a record is then in the
	// backlog (Seq <= last) or in the queue, and the queue's copy of a
	// backlog record is skipped by its sequence number.
	sub := s.logs.Subscribe(s.cfg.StreamQueue)
	defer sub.Close()
	backlog, last := s.logs.Tail(tail, minLevel)

	send := func(v any) error { return writeJSONWS(ctx, conn, v) }
	if err := send(wire.ConnectionEstablished); err != nil {
		return websocket.StatusGoingAway, "write failed"
	}
	for _, rec := range backlog {
		if err := send(rec.LogRecord); err != nil {
			return websocket.StatusGoingAway, "write failed"
		}
		s.metrics.eventsOut.WithLabelValues(logsEndpoint).Inc()
	}
	for {
		select {
		case rec := <-sub.C():
			if rec.Seq <= last || rec.Severity < minLevel {
				continue
			}
			if err := send(rec.LogRecord); err != nil {
				return websocket.StatusGoingAway, "write failed"
			}
			s.metrics.eventsOut.WithLabelValues(logsEndpoint).Inc()
		case <-sub.Done():
			if errors.Is(sub.Err(), hub.ErrOverflow) {
				s.metrics.dropped.WithLabelValues(logsEndpoint).Inc()
				return websocket.StatusTryAgainLater, "too slow: queue overflowed; reconnect for a fresh backlog"
			}
			return websocket.StatusGoingAway, "server shutting down"
		case <-ctx.Done():
			return websocket.StatusGoingAway, "client gone"
		}
	}
}
