// Package store keeps events durably: Vamp-style tagged events posted through
// the API and the container events of every engine. Nothing outside this
// package knows the backend is bbolt, so another backend (NATS JetStream, to
// share one history between replicas) can take its place behind Store.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Store is an append-only event log with tag, type and time indexes.
type Store interface {
	// Append stores events in one durable commit, all or none: when it
	// returns nil the events survive a crash. Each event is normalised
	// first (see Normalize); it returns them with their ids. Appended
	// events are then published to subscribers in strictly increasing id
	// order.
	Append(ctx context.Context, events ...wire.Event) ([]wire.Event, error)
	// Query returns one page of the events matching q, newest first, and
	// the number of all matching events.
	Query(ctx context.Context, q Query) (Page, error)
	// Aggregate computes a over the numeric field a.Field of the values of
	// the events matching f.
	Aggregate(ctx context.Context, f Filter, a Aggregator) (float64, error)
	// Scan calls fn for every event matching f with after < id <= upTo,
	// oldest first. upTo 0 means the newest event at the time of the call.
	// fn returning ErrStop ends the scan without error.
	Scan(ctx context.Context, after, upTo uint64, f Filter, fn func(wire.Event) error) error
	// LastID is the id of the newest stored event, 0 when there is none.
	LastID() uint64
	// Subscribe returns a subscription to the events appended from now on,
	// with a queue of size events. Subscribers share each event: they
	// must not change it.
	Subscribe(size int) *hub.Subscription[*wire.Event]
	// Close stops subscriptions and background work and closes the file.
	Close() error
}

// ErrStop ends a Scan early without an error.
var ErrStop = errors.New("stop scan")

// ErrClosed is returned by Append once Close has begun: an event accepted
// after that point could not be promised durable.
var ErrClosed = errors.New("store: closed")

// Filter selects events. Empty fields select everything.
type Filter struct {
	Tags []string // every tag must be on the event
	Type string
	// Timestamp bounds; nil means unbounded. Lt and Lte (Gt and Gte) are
	// exclusive of each other: Validate reports both being set.
	Lt, Lte, Gt, Gte *time.Time
}

// Query is a Filter with 1-based pagination.
type Query struct {
	Filter
	Page    int // below 1 means 1
	PerPage int // below 1 means DefaultPerPage; above MaxPerPage means MaxPerPage
}

// Pagination bounds of Query.
const (
	DefaultPerPage = 30
	MaxPerPage     = 1000
)

// Page is one page of a Query's result.
type Page struct {
	Events []wire.Event
	Total  int
}

// Aggregator names one of Vamp's aggregations over a numeric value field.
//
// Only events whose value is a JSON object holding a JSON number under Field
// (a top-level key) contribute; others are skipped. "count" with an empty
// Field counts every matching event; with a Field it counts the events that
// contribute. "average", "min" and "max" need a Field and give 0 when no
// event contributes, so a quiet period reads as 0 rather than an error.
type Aggregator struct {
	Type  string // "count", "average", "min" or "max"
	Field string // a field of the event value (a JSON object); optional for count
}
