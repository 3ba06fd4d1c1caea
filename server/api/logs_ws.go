package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/crowsnest-hq/crowsnest/internal/serverlog"
	"github.com/crowsnest-hq/crowsnest/server/respond"
	"github.com/crowsnest-hq/crowsnest/server/stream"
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
		respond.Error(w, http.StatusServiceUnavailable, "server log records are not kept")
		return
	}
	minLevel, tail, err := parseLogsQuery(r, s.logs.Cap())
	if err != nil {
		respond.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	// Subscribe before reading the backlog: a record is then in the
	// backlog (Seq <= last) or in the queue, and the queue's copy of a
	// backlog record is skipped by its sequence number.
	sub := s.logs.Subscribe(s.streamQueue)
	defer sub.Close()
	backlog, last := s.logs.Tail(tail, minLevel)
	stream.Socket(s.streams, w, r, stream.Spec[serverlog.Record]{
		Endpoint: logsEndpoint,
		Source:   sub,
		Out:      s.metrics.eventsOut.WithLabelValues(logsEndpoint),
		Resume:   func() string { return "; reconnect for a fresh backlog" },
		Start: func(ctx context.Context, send func([]byte) error) error {
			if err := greet(ctx, send); err != nil {
				return err
			}
			for _, rec := range backlog {
				if err := sendJSON(send, rec.LogRecord); err != nil {
					return err
				}
			}
			return nil
		},
		Frames: func(rec serverlog.Record, dst [][]byte) ([][]byte, error) {
			if rec.Seq <= last || rec.Severity < minLevel {
				return dst, nil
			}
			return appendJSON(dst, rec.LogRecord)
		},
	})
}

// parseLogsQuery reads level (minimum, default debug: everything kept) and
// tail (default defaultLogTail; above the ring size it is the ring size).
func parseLogsQuery(r *http.Request, ringSize int) (slog.Level, int, error) {
	q := r.URL.Query()
	minLevel := slog.LevelDebug
	if v := q.Get("level"); v != "" {
		l, err := serverlog.ParseLevel(v)
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
