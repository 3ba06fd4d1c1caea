package store

import (
	"context"
	"errors"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// What a Store shared by several crowsnest replicas offers besides Store.
// The bbolt store has one writer and needs none of it but HealthReporter;
// callers check for each with a type assertion.

// KeyedAppender stores events under identities: an event whose key was
// stored before (within the backend's window) is not stored again, and comes
// back with the id it got then. Replicas watching the same engine store each
// engine event once this way.
type KeyedAppender interface {
	// AppendKeyed is Append with keys[i] the identity of events[i]. It
	// is not all or none: an error may leave some events stored, and
	// calling it again with the same keys stores the rest.
	AppendKeyed(ctx context.Context, keys []string, events ...wire.Event) ([]wire.Event, error)
}

// Syncer is a Store that other processes write to as well.
type Syncer interface {
	// Sync waits until every event stored anywhere before the call can
	// be read from this Store.
	Sync(ctx context.Context) error
}

// ErrUnavailable wraps the reason a Store cannot take events now (a remote
// backend not answering); the HTTP layer answers 503.
var ErrUnavailable = errors.New("event store unavailable")

// HealthReporter is a Store that can be out of service while crowsnest
// runs (a remote backend not answering, a full disk).
type HealthReporter interface {
	// Health is nil while the store accepts events, else why it does not.
	Health() error
}
