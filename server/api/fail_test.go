package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/crowsnest-hq/crowsnest/internal/alerts"
	"github.com/crowsnest-hq/crowsnest/internal/body"
	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/history"
	"github.com/crowsnest-hq/crowsnest/internal/stacks"
	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/store"
)

// TestFailStatus checks the one error-to-status table, with each error
// wrapped as a handler's context would wrap it.
func TestFailStatus(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{stacks.ErrNotFound, http.StatusNotFound},
		{alerts.ErrNotFound, http.StatusNotFound},
		{history.ErrNotFound, http.StatusNotFound},
		{stats.ErrNotFound, http.StatusNotFound},
		{docker.ErrUnknownHost, http.StatusNotFound},
		{cerrdefs.ErrNotFound, http.StatusNotFound},
		{notFound(errors.New("no engine named x")), http.StatusNotFound},
		{stacks.ErrExists, http.StatusConflict},
		{stacks.ErrBusy, http.StatusConflict},
		{alerts.ErrExists, http.StatusConflict},
		{stacks.ErrInvalid, http.StatusBadRequest},
		// A stack naming an unknown engine is a bad body, not a missing resource.
		{fmt.Errorf("%w: %w", stacks.ErrInvalid, docker.ErrUnknownHost), http.StatusBadRequest},
		{alerts.ErrInvalid, http.StatusBadRequest},
		{history.ErrAmbiguous, http.StatusBadRequest},
		{&store.FieldError{Field: "tags", Message: "empty tag"}, http.StatusBadRequest},
		{&history.RangeError{Reason: "backwards"}, http.StatusBadRequest},
		{invalid(errors.New("page: not a number")), http.StatusBadRequest},
		{stacks.ErrTooLarge, http.StatusRequestEntityTooLarge},
		{body.ErrTooLarge, http.StatusRequestEntityTooLarge},
		{tooLarge(errors.New("body: larger than 1 bytes")), http.StatusRequestEntityTooLarge},
		// A body the decoder finds too large is 413 even once marked invalid.
		{invalid(fmt.Errorf("events body: %w", body.ErrTooLarge)), http.StatusRequestEntityTooLarge},
		{body.ErrUnsupportedMediaType, http.StatusUnsupportedMediaType},
		{errNotAcceptable, http.StatusNotAcceptable},
		{store.ErrUnavailable, http.StatusServiceUnavailable},
		{store.ErrClosed, http.StatusServiceUnavailable},
		{stacks.ErrClosed, http.StatusServiceUnavailable},
		{unavailable(errors.New("stacks are not available")), http.StatusServiceUnavailable},
		{fmt.Errorf("store: create stack %q: %w", "web", fmt.Errorf("%w: write /data/crowsnest.db: %w", store.ErrNoSpace, syscall.ENOSPC)), http.StatusInsufficientStorage},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		wrapped := fmt.Errorf("doing it: %w", c.err)
		if got := failStatus(wrapped); got != c.want {
			t.Errorf("failStatus(%v) = %d, want %d", wrapped, got, c.want)
		}
	}
}

// TestFailLogsServerErrorsOnce checks that fail answers the error's text
// with its status, logs a 5xx exactly once with the method and route, logs
// no 4xx (the caller's mistake), and neither answers nor logs for a caller
// that left.
func TestFailLogsServerErrorsOnce(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		left   bool
		status int // 0: no answer
		logs   int
	}{
		{"server error", errors.New("disk on fire"), false, http.StatusInternalServerError, 1},
		{"unavailable", store.ErrUnavailable, false, http.StatusServiceUnavailable, 1},
		{"not found", stacks.ErrNotFound, false, http.StatusNotFound, 0},
		{"invalid", invalid(errors.New("page: not a number")), false, http.StatusBadRequest, 0},
		{"caller left", errors.New("disk on fire"), true, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logged bytes.Buffer
			s := &Server{log: slog.New(slog.NewJSONHandler(&logged, nil))}
			mux := http.NewServeMux()
			mux.HandleFunc("GET /api/v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
				s.fail(w, r, "reading a thing", c.err)
			})
			ctx, cancel := context.WithCancel(context.Background())
			if c.left {
				cancel()
			} else {
				defer cancel()
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/things/7", nil))

			if c.status == 0 {
				if rec.Body.Len() != 0 {
					t.Errorf("answered %d %q to a caller that left", rec.Code, rec.Body)
				}
			} else {
				var msg struct{ Message string }
				if err := json.Unmarshal(rec.Body.Bytes(), &msg); err != nil {
					t.Fatalf("answer %q: %v", rec.Body, err)
				}
				if rec.Code != c.status || msg.Message != c.err.Error() {
					t.Errorf("answered %d %q, want %d %q", rec.Code, msg.Message, c.status, c.err.Error())
				}
			}
			lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
			if logged.Len() == 0 {
				lines = nil
			}
			if len(lines) != c.logs {
				t.Fatalf("logged %d lines, want %d:\n%s", len(lines), c.logs, logged.String())
			}
			for _, l := range lines {
				var rec map[string]any
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatal(err)
				}
				if rec["method"] != "GET" || rec["route"] != "GET /api/v1/things/{id}" || rec["err"] != c.err.Error() ||
					!strings.Contains(rec["msg"].(string), "reading a thing") {
					t.Errorf("log line %s lacks the op, method, route or error", l)
				}
			}
		})
	}
}

// TestFailNoSpaceHidesThePath checks that a write refused for a full disk
// answers 507 with the store's own words, not the file system's error,
// which names the data directory.
func TestFailNoSpaceHidesThePath(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	err := fmt.Errorf("store: create stack %q: %w", "web", fmt.Errorf("%w: write /srv/secret-dir/crowsnest.db: %w", store.ErrNoSpace, syscall.ENOSPC))
	rec := httptest.NewRecorder()
	s.fail(rec, httptest.NewRequest(http.MethodPost, "/api/v1/stacks", nil), "creating a stack", err)
	if rec.Code != http.StatusInsufficientStorage || strings.Contains(rec.Body.String(), "/srv/secret-dir") ||
		!strings.Contains(rec.Body.String(), "no space left") {
		t.Errorf("answered %d %s, want 507 saying the disk is full without the path", rec.Code, rec.Body)
	}
}
