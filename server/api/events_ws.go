package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/feed"
	"github.com/crowsnest-hq/crowsnest/internal/filter"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/respond"
	"github.com/crowsnest-hq/crowsnest/server/stream"
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
		respond.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if !req.replays() {
		if err := s.liveEngineError(); err != nil {
			s.fail(w, r, "watching events", err)
			return
		}
	}
	s.streamEvents(w, r, req)
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

// streamEvents sends the replay and then live events until the client
// leaves, until passes, or the client falls too far behind.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, req eventsRequest) {
	// Subscribe before reading history: whatever is stored after lastID
	// arrives live, whatever before it is in the replay.
	sub := s.feed.SubscribeContainers(s.streamQueue)
	defer sub.Close()
	lastID := s.store.LastID()
	var sent resumePoint // the last event sent, to tell a dropped client where to resume
	sp := stream.Spec[*feed.Item]{
		Endpoint: "events_ws",
		Source:   sub,
		Out:      s.metrics.eventsOut.WithLabelValues("events_ws"),
		Resume:   sent.hint,
		Frames: func(it *feed.Item, dst [][]byte) ([][]byte, error) {
			ev := it.Container
			if it.Event.ID <= lastID || !req.filters.Match(*ev) {
				return dst, nil
			}
			if req.until != nil && ev.TimeNano > req.until.UnixNano() {
				return dst, stream.Finish{Reason: "until reached"}
			}
			return append(dst, it.WSFrame()), nil
		},
		Sent: func(it *feed.Item) { sent.set(it.Event.ID, it.Container.TimeNano) },
	}
	if req.until != nil {
		sp.Until = *req.until
	}
	if req.replays() {
		sp.Start = func(ctx context.Context, send func([]byte) error) error {
			return s.replayEvents(ctx, req, lastID, func(ev wire.ContainerEvent, id uint64, frame []byte) error {
				if err := send(frame); err != nil {
					return err
				}
				sent.set(id, ev.TimeNano)
				return nil
			})
		}
	}
	stream.Socket(s.streams, w, r, sp)
}

// replayEvents sends the stored container events after req.after and from
// since, up to lastID.
func (s *Server) replayEvents(ctx context.Context, req eventsRequest, lastID uint64, send func(wire.ContainerEvent, uint64, []byte) error) error {
	f := store.Filter{Type: wire.ContainerEventType, Gte: req.since, Lte: req.until}
	err := s.store.Scan(ctx, req.after, lastID, f, func(e wire.Event) error {
		ev, err := wire.DecodeContainerEvent(e)
		if err != nil {
			return err
		}
		if !req.filters.Match(ev) {
			return nil
		}
		return send(ev, e.ID, wire.WithStoreID(e.Value, e.ID))
	})
	if err != nil {
		return fmt.Errorf("replay failed: %w", err)
	}
	return nil
}

// resumePoint is the last event a client was sent.
type resumePoint struct {
	id   uint64
	time time.Time
}

// set records the event with store id id and time t as the last one sent.
func (p *resumePoint) set(id uint64, t int64) {
	p.id, p.time = id, time.Unix(0, t)
}

// hint tells a client how to resume after p: exactly, by store id, or, for
// clients that only know Docker's since, by time (which may repeat or, across
// engines with skewed clocks, skip events: see the /api page).
func (p *resumePoint) hint() string {
	if p.id == 0 {
		return ""
	}
	next := p.time.Add(time.Nanosecond) // since is inclusive: skip what was sent
	return fmt.Sprintf("; resume with after=%d or since=%d.%09d", p.id, next.Unix(), next.Nanosecond())
}
