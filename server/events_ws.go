package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/filter"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// eventsRequest is a parsed /events/ws query.
type eventsRequest struct {
	filters filter.Filters
	since   *time.Time // replay from the store from here
	until   *time.Time // stop after this time
	after   uint64     // replay from the store after this store id; 0: none
}

// replays reports whether the request asks for history before live events.
func (r eventsRequest) replays() bool { return r.since != nil || r.after > 0 }

// handleEventsWS serves Hyper.sh's "Monitor events" socket: container events
// of every engine, filtered with Docker's semantics; with since, replayed from
// the store first, then live without a gap or a duplicate.
func (s *Server) handleEventsWS(w http.ResponseWriter, r *http.Request) {
	req, err := parseEventsRequest(r, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !req.replays() {
		if err := s.liveEngineError(); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	s.serveSocket(w, r, "events_ws", func(ctx context.Context, conn *websocket.Conn) (websocket.StatusCode, string) {
		return s.streamEvents(ctx, conn, req)
	})
}

func parseEventsRequest(r *http.Request, now time.Time) (eventsRequest, error) {
	q := r.URL.Query()
	var req eventsRequest
	f, err := filter.Parse(q.Get("filters"))
	if err != nil {
		return req, fmt.Errorf("filters: %w", err)
	}
	req.filters = f
	for name, dst := range map[string]**time.Time{"since": &req.since, "until": &req.until} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, err := parseTime(v, now)
		if err != nil {
			return req, fmt.Errorf("%s: %w", name, err)
		}
		*dst = &t
	}
	if v := q.Get("after"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return req, fmt.Errorf("after: %q is not a store id (a non-negative integer)", v)
		}
		req.after = id
	}
	if req.since != nil && req.until != nil && req.until.Before(*req.since) {
		return req, errors.New("until is before since")
	}
	return req, nil
}

// liveEngineError is why no live event can be served: every engine is
// unreachable. With since the store can still replay, so it is not asked.
func (s *Server) liveEngineError() error {
	var causes []string
	for _, h := range s.engines.Hosts() {
		if h.State != wire.HostUnreachable {
			return nil
		}
		causes = append(causes, h.Name+": "+h.Error)
	}
	if len(causes) == 0 {
		return nil
	}
	return fmt.Errorf("no Docker engine is reachable: %s", strings.Join(causes, "; "))
}

// streamEvents sends the replay and then live events until the client leaves,
// until passes, or the client falls too far behind. It returns how to close.
func (s *Server) streamEvents(ctx context.Context, conn *websocket.Conn, req eventsRequest) (websocket.StatusCode, string) {
	// Subscribe before reading history: whatever is stored after lastID
	// arrives live, whatever before it is in the replay.
	sub := s.feed.SubscribeContainers(s.cfg.StreamQueue)
	defer sub.Close()
	lastID := s.store.LastID()
	var sent resumePoint // the last event sent, to tell a dropped client where to resume
	out := s.metrics.eventsOut.WithLabelValues("events_ws")
	send := func(ev wire.ContainerEvent, id uint64, frame []byte) error {
		if err := writeWS(ctx, conn, frame); err != nil {
			return err
		}
		sent = resumePoint{id: id, time: time.Unix(0, ev.TimeNano)}
		out.Inc()
		return nil
	}
	if req.replays() {
		if err := s.replayEvents(ctx, req, lastID, send); err != nil {
			return websocket.StatusInternalError, closeReason("replay failed: " + err.Error())
		}
	}
	var untilC <-chan time.Time
	if req.until != nil {
		t := time.NewTimer(time.Until(*req.until))
		defer t.Stop()
		untilC = t.C
	}
	for {
		select {
		case it := <-sub.C():
			ev := it.Container
			if it.Event.ID <= lastID || !req.filters.Match(*ev) {
				continue
			}
			if req.until != nil && ev.TimeNano > req.until.UnixNano() {
				return websocket.StatusNormalClosure, "until reached"
			}
			if err := send(*ev, it.Event.ID, it.WSFrame()); err != nil {
				return websocket.StatusGoingAway, closeReason("write failed")
			}
		case <-untilC:
			return websocket.StatusNormalClosure, "until reached"
		case <-sub.Done():
			return s.endedStream(sub.Err(), sent)
		case <-ctx.Done():
			return websocket.StatusGoingAway, "client gone"
		}
	}
}

// replayEvents sends the stored container events after req.after and from
// since, up to lastID.
func (s *Server) replayEvents(ctx context.Context, req eventsRequest, lastID uint64, send func(wire.ContainerEvent, uint64, []byte) error) error {
	f := store.Filter{Type: wire.ContainerEventType, Gte: req.since, Lte: req.until}
	return s.store.Scan(ctx, req.after, lastID, f, func(e wire.Event) error {
		ev, err := docker.DecodeRecord(e)
		if err != nil {
			return fmt.Errorf("event %d: %w", e.ID, err)
		}
		if !req.filters.Match(ev) {
			return nil
		}
		return send(ev, e.ID, wire.WithStoreID(e.Value, e.ID))
	})
}

// resumePoint is the last event a client was sent.
type resumePoint struct {
	id   uint64
	time time.Time
}

// hint tells a client how to resume after p: exactly, by store id, or, for
// clients that only know Docker's since, by time (which may repeat or, across
// engines with skewed clocks, skip events: see the /api page).
func (p resumePoint) hint() string {
	if p.id == 0 {
		return ""
	}
	next := p.time.Add(time.Nanosecond) // since is inclusive: skip what was sent
	return fmt.Sprintf("; resume with after=%d or since=%d.%09d", p.id, next.Unix(), next.Nanosecond())
}

// endedStream tells a client whose subscription ended why, and where to
// resume from.
func (s *Server) endedStream(err error, sent resumePoint) (websocket.StatusCode, string) {
	resume := sent.hint()
	if errors.Is(err, hub.ErrOverflow) {
		s.metrics.dropped.WithLabelValues("events_ws").Inc()
		return websocket.StatusTryAgainLater, closeReason("too slow: queue overflowed" + resume)
	}
	return websocket.StatusTryAgainLater, closeReason("stream interrupted" + resume)
}

// closeReason trims a reason to the 123 bytes a close frame can carry.
func closeReason(s string) string {
	if len(s) > 123 {
		return s[:123]
	}
	return s
}
