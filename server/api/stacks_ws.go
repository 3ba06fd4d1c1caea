package api

import (
	"net/http"
	"strconv"

	"github.com/crowsnest-hq/crowsnest/internal/stacks"
	"github.com/crowsnest-hq/crowsnest/server/respond"
	"github.com/crowsnest-hq/crowsnest/server/stream"
)

// handleStacksWS serves the DockStat Stack Socket: the greeting, then every
// stack-status, stack-progress, stack-error and stack-removed message
// (only those of one stack with ?stack_id=). A client too slow to keep up
// is closed with a reason; what it missed is in /api/v1/events?type=stack.
func (s *Server) handleStacksWS(w http.ResponseWriter, r *http.Request) {
	if !s.stacksReady(w) {
		return
	}
	var filter int64 = -1
	if v := r.URL.Query().Get("stack_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 0 {
			respond.Error(w, http.StatusBadRequest, "stack_id: want a non-negative integer, got "+strconv.Quote(v))
			return
		}
		filter = id
	}
	// Subscribe before the greeting: a client that acts once greeted must
	// see every message of that action.
	sub := s.stacks.Subscribe(s.streamQueue)
	defer sub.Close()
	stream.Socket(s.streams, w, r, stream.Spec[stacks.Message]{
		Endpoint: "stacks",
		Source:   sub,
		Resume:   func() string { return "; missed messages are in /api/v1/events?type=stack" },
		Start:    greet,
		Frames: func(msg stacks.Message, dst [][]byte) ([][]byte, error) {
			if filter >= 0 && msg.StackID != filter {
				return dst, nil
			}
			return append(dst, msg.Frame), nil
		},
	})
}
