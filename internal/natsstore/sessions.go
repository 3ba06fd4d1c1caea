package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crowsnest-hq/crowsnest/internal/store"
)

// SessionsBucket is the key-value bucket of login sessions.
const SessionsBucket = "crowsnest-sessions"

// sessionsTimeout bounds one session call that has no deadline of its own
// while NATS does not answer: a login check must not hang a request.
const sessionsTimeout = 10 * time.Second

// Sessions is store.Sessions in a JetStream key-value bucket, so a login on
// one replica is a login on every replica.
type Sessions struct{ st *Store }

var _ store.Sessions = Sessions{}

// NewSessions returns the sessions of the replicas sharing st's servers.
func NewSessions(st *Store) Sessions { return Sessions{st: st} }

// bucket returns the bucket and a ctx bounded by sessionsTimeout, or at
// once the reason NATS is unavailable (see KeyValue).
func (s Sessions) bucket(ctx context.Context) (jetstream.KeyValue, context.Context, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, sessionsTimeout)
	kv, err := s.st.KeyValue(ctx, SessionsBucket, 0)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return kv, ctx, cancel, nil
}

// Put stores sess under key, replacing any session there.
func (s Sessions) Put(ctx context.Context, key string, sess store.Session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("natsstore: encode session: %w", err)
	}
	kv, ctx, cancel, err := s.bucket(ctx)
	if err != nil {
		return fmt.Errorf("natsstore: put session: %w", err)
	}
	defer cancel()
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("natsstore: put session: %w", err)
	}
	return nil
}

// Get returns the session under key, or store.ErrSessionNotFound.
func (s Sessions) Get(ctx context.Context, key string) (store.Session, error) {
	kv, ctx, cancel, err := s.bucket(ctx)
	if err != nil {
		return store.Session{}, fmt.Errorf("natsstore: get session: %w", err)
	}
	defer cancel()
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return store.Session{}, fmt.Errorf("natsstore: get session: %w", store.ErrSessionNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("natsstore: get session: %w", err)
	}
	var sess store.Session
	if err := json.Unmarshal(e.Value(), &sess); err != nil {
		return store.Session{}, fmt.Errorf("natsstore: decode session: %w", err)
	}
	return sess, nil
}

// Delete removes the session under key; a missing one is no error.
func (s Sessions) Delete(ctx context.Context, key string) error {
	kv, ctx, cancel, err := s.bucket(ctx)
	if err != nil {
		return fmt.Errorf("natsstore: delete session: %w", err)
	}
	defer cancel()
	if err := kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("natsstore: delete session: %w", err)
	}
	return nil
}

// DeleteExpired removes every session that expired before now. It reads
// every session: the bucket holds a week of logins, a small number.
func (s Sessions) DeleteExpired(ctx context.Context, now time.Time) error {
	kv, ctx, cancel, err := s.bucket(ctx)
	if err != nil {
		return fmt.Errorf("natsstore: delete expired sessions: %w", err)
	}
	defer cancel()
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("natsstore: delete expired sessions: %w", err)
	}
	defer func() { _ = keys.Stop() }() // ends the listing when returning early
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("natsstore: delete expired sessions: %w", err)
		}
		var sess store.Session
		if json.Unmarshal(e.Value(), &sess) == nil && !sess.Expires.Before(now) {
			continue
		}
		if err := kv.Purge(ctx, key); err != nil {
			return fmt.Errorf("natsstore: delete expired sessions: %w", err)
		}
	}
	return nil
}
