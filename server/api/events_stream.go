package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/crowsnest-hq/crowsnest/internal/feed"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/respond"
	"github.com/crowsnest-hq/crowsnest/server/stream"
)

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
// stream gets a ": keep-alive" comment every stream.SSEHeartbeat. A client too slow
// to keep up with its queue gets a final comment saying so and the stream
// ends; it resumes with Last-Event-ID.
func (s *Server) handleEventStream(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		respond.Error(w, http.StatusBadRequest, fmt.Sprintf("query: %v", err))
		return
	}
	f, err := parseEventFilter(q)
	if err != nil {
		respond.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := f.Validate(); err != nil {
		respond.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	after, resume, err := lastEventID(r, q)
	if err != nil {
		respond.Error(w, http.StatusBadRequest, err.Error())
		return
	}

	// Subscribe before reading LastID: whatever is stored after last arrives
	// on the subscription, whatever up to it is in the store for the replay.
	sub := s.feed.SubscribeAll(s.streamQueue)
	defer sub.Close()
	last := s.store.LastID()
	sp := stream.Spec[*feed.Item]{
		Endpoint: sseEndpoint,
		Source:   sub,
		Out:      s.metrics.eventsOut.WithLabelValues(sseEndpoint),
		Resume:   func() string { return "; reconnect with Last-Event-ID to resume" },
		Frames: func(it *feed.Item, dst [][]byte) ([][]byte, error) {
			if it.Event.ID <= last || !f.Match(it.Event) {
				return dst, nil // in the replay already, or filtered out
			}
			frame, err := it.SSEFrame(sseFrame)
			if err != nil {
				return dst, err
			}
			return append(dst, frame), nil
		},
	}
	// Replay only when there is something after the client's id: Scan's
	// upTo 0 would mean "the newest now", overlapping the live events.
	if resume && last > after {
		// A subscription that overflows during a long replay stops it at
		// once (send fails): the client resumes from the last event it
		// got, instead of receiving the rest of the replay only to be
		// dropped after it.
		sp.Start = func(ctx context.Context, send func([]byte) error) error {
			err := s.store.Scan(ctx, after, last, f, func(e wire.Event) error {
				frame, err := sseFrame(e)
				if err != nil {
					return err
				}
				return send(frame)
			})
			if err != nil {
				return fmt.Errorf("replay after %d: %w", after, err)
			}
			return nil
		}
	}
	stream.SSE(s.streams, w, r, sp)
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
