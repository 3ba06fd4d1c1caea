package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/feed"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// sseHeartbeat is how often an idle stream sends a comment, so that proxies
// and browsers do not time the connection out. A variable so tests can
// shorten it.
var sseHeartbeat = 15 * time.Second

// sseWriteTimeout bounds one write to a stream client. Without it a client
// that stops reading blocks its handler in Write forever, and the handler
// never notices that the client's subscription overflowed.
var sseWriteTimeout = 10 * time.Second

// sseRetry is the reconnection delay, in milliseconds, that the stream asks
// EventSource clients to wait.
const sseRetry = 2000

// sseEndpoint labels the metrics of this stream.
const sseEndpoint = "events_sse"

// handleEventStream serves Vamp's stream as server-sent events: every stored
// event matching the tag (all required) and type filters, as
//
//	id: <event id>
//	event: <type>
//	data: <event JSON on one line>
//
// The id lets a client resume: with Last-Event-ID (the header, which wins, or
// the last_event_id query parameter for reconnects done by hand) the events
// stored after that id are replayed from the store, then the stream goes live
// with no gap and no duplicate. Without it only live events are sent. An idle
// stream gets a ": keep-alive" comment every sseHeartbeat. A client too slow
// to keep up with its queue gets a final comment saying so and the stream
// ends; it resumes with Last-Event-ID.
func (s *Server) handleEventStream(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("query: %v", err))
		return
	}
	f, err := parseEventFilter(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := f.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	after, resume, err := lastEventID(r, q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}

	// Subscribe before reading LastID: whatever is stored after last arrives
	// on the subscription, whatever up to it is in the store for the replay.
	sub := s.feed.SubscribeAll(s.cfg.StreamQueue)
	defer sub.Close()
	last := s.store.LastID()

	s.metrics.clients.WithLabelValues(sseEndpoint).Inc()
	defer s.metrics.clients.WithLabelValues(sseEndpoint).Dec()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass every event on at once
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w)}
	// The connection may serve further requests once the stream ends: lift
	// the deadline the last write set.
	defer func() { _ = sw.rc.SetWriteDeadline(time.Time{}) }()
	if err := sw.send(fmt.Appendf(nil, "retry: %d\n\n", sseRetry)); err != nil {
		s.log.Debug("event stream: first write failed", "err", err)
		return
	}

	ctx := r.Context()
	out := s.metrics.eventsOut.WithLabelValues(sseEndpoint)
	sendFrame := func(frame []byte, err error) error {
		if err != nil {
			return err
		}
		if err := sw.send(frame); err != nil {
			return err
		}
		out.Inc()
		return nil
	}
	// Replay only when there is something after the client's id: Scan's
	// upTo 0 would mean "the newest now", overlapping the live events.
	if resume && last > after {
		// A subscription that overflows during a long replay stops it at
		// once: the client resumes from the last event it got, instead of
		// receiving the rest of the replay only to be dropped after it.
		// The live events must not be sent then, or the part of the replay
		// not yet sent would become a gap.
		ended := false
		err := s.store.Scan(ctx, after, last, f, func(e wire.Event) error {
			select {
			case <-sub.Done():
				ended = true
				return store.ErrStop
			default:
				return sendFrame(feed.SSEFrame(e))
			}
		})
		if err != nil {
			if ctx.Err() == nil && !isWriteError(err) {
				s.log.Warn("event stream: replay failed", "after", after, "err", err)
				_ = sw.send(sseComment("replay failed; reconnect with Last-Event-ID to resume"))
			}
			return
		}
		if ended {
			s.endStream(sw, sub.Err())
			return
		}
	}

	heartbeat := time.NewTicker(sseHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case it := <-sub.C():
			if it.Event.ID <= last || !f.Match(it.Event) {
				continue // in the replay already, or filtered out
			}
			if err := sendFrame(it.SSEFrame()); err != nil {
				return
			}
			heartbeat.Reset(sseHeartbeat) // an event is as good as a heartbeat
		case <-heartbeat.C:
			if err := sw.send([]byte(": keep-alive\n\n")); err != nil {
				return
			}
		case <-sub.Done():
			s.endStream(sw, sub.Err())
			return
		case <-ctx.Done():
			return
		}
	}
}

// endStream tells a client whose subscription ended why, in a final comment,
// and counts it when it was dropped as too slow.
func (s *Server) endStream(sw *sseWriter, err error) {
	msg := "stream closed; reconnect with Last-Event-ID to resume"
	if errors.Is(err, hub.ErrOverflow) {
		s.metrics.dropped.WithLabelValues(sseEndpoint).Inc()
		msg = "too slow: the queue of this stream overflowed; reconnect with Last-Event-ID to resume"
	}
	if err := sw.send(sseComment(msg)); err != nil {
		s.log.Debug("event stream: final comment not sent", "err", err)
	}
}

// lastEventID is where the client asks to resume: the Last-Event-ID header
// (what EventSource sends on reconnect, so it wins over the query, which
// still carries the id the stream was first opened with) or the
// last_event_id query parameter. resume is false when neither is given.
func lastEventID(r *http.Request, q url.Values) (id uint64, resume bool, err error) {
	name, v := "Last-Event-ID", strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		name, v = "last_event_id", strings.TrimSpace(q.Get("last_event_id"))
	}
	if v == "" {
		return 0, false, nil
	}
	id, err = strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %q is not an event id", name, v)
	}
	return id, true, nil
}

// sseComment is an SSE comment line, ignored by EventSource but readable by
// a person or a proxy log.
func sseComment(msg string) []byte {
	return []byte(": " + feed.OneLine(msg) + "\n\n")
}

// errWrite marks a failed write to the client, so that a Scan ended by it is
// not logged as a store failure.
var errWrite = errors.New("write to stream client")

// isWriteError reports whether err is a failed write to the client.
func isWriteError(err error) bool { return errors.Is(err, errWrite) }

// sseWriter writes whole messages to a stream client and flushes each one,
// with a deadline so a client that stopped reading cannot hold the handler.
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

// send writes one message and flushes it.
func (sw *sseWriter) send(msg []byte) error {
	// Deadlines are best effort: a ResponseWriter that cannot set one still
	// streams, only without protection against a stalled client.
	if err := sw.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("%w: set deadline: %w", errWrite, err)
	}
	if _, err := sw.w.Write(msg); err != nil {
		return fmt.Errorf("%w: %w", errWrite, err)
	}
	if err := sw.rc.Flush(); err != nil {
		return fmt.Errorf("%w: flush: %w", errWrite, err)
	}
	return nil
}
