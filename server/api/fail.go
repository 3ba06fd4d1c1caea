package api

import (
	"errors"
	"log/slog"
	"net/http"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/crowsnest-hq/crowsnest/internal/alerts"
	"github.com/crowsnest-hq/crowsnest/internal/body"
	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/history"
	"github.com/crowsnest-hq/crowsnest/internal/stacks"
	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// failStatuses is the one map from the errors the handlers meet to the
// status they answer, by kind: the first kind an error is answers. Order
// matters where an error is of two kinds: a body too large for the decoder
// is 413 though marked invalid, and a body naming an unknown engine is 400
// though it wraps the engines' unknown host. Any other error is a 500. A
// new sentinel joins its kind here, and every handler answers it alike.
var failStatuses = []struct {
	status int
	is     func(error) bool
}{
	{http.StatusRequestEntityTooLarge, isAny(errTooLarge, body.ErrTooLarge, stacks.ErrTooLarge)},
	{http.StatusUnsupportedMediaType, isAny(body.ErrUnsupportedMediaType)},
	{http.StatusNotAcceptable, isAny(errNotAcceptable)},
	{http.StatusForbidden, isAny(errForbidden)},
	{http.StatusBadRequest, isAny(errInvalid, stacks.ErrInvalid, alerts.ErrInvalid, history.ErrAmbiguous)},
	{http.StatusBadRequest, isA[*store.FieldError]},
	{http.StatusBadRequest, isA[*history.RangeError]},
	{http.StatusNotFound, isAny(errNotFound, stacks.ErrNotFound, alerts.ErrNotFound, history.ErrNotFound,
		stats.ErrNotFound, docker.ErrUnknownHost)},
	{http.StatusNotFound, cerrdefs.IsNotFound}, // the engine's: removed meanwhile
	{http.StatusConflict, isAny(errConflict, stacks.ErrExists, stacks.ErrBusy, alerts.ErrExists)},
	{http.StatusServiceUnavailable, isAny(errUnavailable, store.ErrUnavailable, store.ErrClosed, stacks.ErrClosed)},
	{http.StatusInsufficientStorage, isAny(store.ErrNoSpace)},
}

// The kinds of the handlers' own errors, which no package's sentinel
// names; invalid, tooLarge, notFound, forbidden, conflict and unavailable
// mark an error with one.
var (
	errForbidden   = errors.New("forbidden")
	errConflict    = errors.New("conflict")
	errInvalid     = errors.New("invalid request")
	errTooLarge    = errors.New("request too large")
	errNotFound    = errors.New("not found")
	errUnavailable = errors.New("unavailable")
)

// marked is an error of a kind its text does not repeat.
type marked struct{ err, kind error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.err, m.kind} }

// invalid marks err as the caller's mistake (400).
func invalid(err error) error { return marked{err, errInvalid} }

// tooLarge marks err as a request over a limit (413).
func tooLarge(err error) error { return marked{err, errTooLarge} }

// notFound marks err as naming what does not exist (404).
func notFound(err error) error { return marked{err, errNotFound} }

// forbidden marks err as asking for what this server does not allow (403).
func forbidden(err error) error { return marked{err, errForbidden} }

// conflict marks err as asking for what the current state does not allow (409).
func conflict(err error) error { return marked{err, errConflict} }

// unavailable marks err as a part that is not running (503).
func unavailable(err error) error { return marked{err, errUnavailable} }

// failStatus is the status that answers err.
func failStatus(err error) int {
	for _, k := range failStatuses {
		if k.is(err) {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// fail answers a request that err ended, with the status of err's kind
// (failStatuses) and err's text. op says what the handler was doing
// ("listing stacks"); a 5xx is logged, once, here, with op, the method and
// the route, since it is the server's fault rather than the caller's. A
// caller that left gets no answer and no log: nobody is there to read
// either.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	status := failStatus(err)
	if status >= http.StatusInternalServerError {
		if r.Context().Err() != nil {
			return
		}
		level := slog.LevelError
		if status != http.StatusInternalServerError {
			level = slog.LevelWarn // unavailable for now, not broken
		}
		s.log.Log(r.Context(), level, op+" failed", "method", r.Method, "route", r.Pattern, "status", status, "err", err)
	}
	msg := err.Error()
	if status == http.StatusInsufficientStorage {
		// The file system's error names the data directory's path, which
		// is no client's business; the sentinel's own text says it all.
		msg = store.ErrNoSpace.Error()
	}
	respond.Error(w, status, msg)
}

// isAny matches an error that is one of sentinels.
func isAny(sentinels ...error) func(error) bool {
	return func(err error) bool {
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return true
			}
		}
		return false
	}
}

// isA matches an error that is (or wraps) a T.
func isA[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}
