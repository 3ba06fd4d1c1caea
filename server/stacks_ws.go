package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/stacks"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/server/stream"
)

// stacksFeedQueue is the stack manager's queue on the event feed: it only
// updates status per event, so it falls behind only under a huge burst.
const stacksFeedQueue = 1 << 16

// startStacks opens the stack records, starts the manager (which resolves
// stacks an earlier run left mid-action) and feeds it the container events
// so stack status follows the engines. The returned stop must run before
// the store closes: it waits for running actions to end and their messages
// to be stored.
func (s *Server) startStacks(ctx context.Context) (stop func(), err error) {
	recs, err := store.NewStacks(s.store)
	if err != nil {
		return nil, fmt.Errorf("stack records: %w", err)
	}
	m, err := stacks.New(stacks.Options{
		Records:     recs,
		Events:      s.store,
		Engines:     s.engines,
		DataDir:     s.cfg.DataDir,
		DefaultHost: docker.DefaultHostName,
		Logger:      s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("stacks: %w", err)
	}
	s.stacks = m
	ctx, cancel := context.WithCancel(ctx)
	go m.Run(ctx)
	go s.feedStacks(ctx, m)
	return func() {
		cancel()
		if err := m.Close(); err != nil {
			s.log.Error("closing stacks", "err", err)
		}
	}, nil
}

// feedStacks hands every container event to the manager. After a gap the
// manager's periodic full read covers what was missed.
func (s *Server) feedStacks(ctx context.Context, m *stacks.Manager) {
	s.feed.FollowContainers(ctx, stacksFeedQueue, m.Observe, func(err error) {
		s.log.Warn("stack status fell behind container events; resubscribing", "err", err)
	})
}

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
			writeError(w, http.StatusBadRequest, "stack_id: want a non-negative integer, got "+strconv.Quote(v))
			return
		}
		filter = id
	}
	// Subscribe before the greeting: a client that acts once greeted must
	// see every message of that action.
	sub := s.stacks.Subscribe(s.cfg.StreamQueue)
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
