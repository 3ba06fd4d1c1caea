package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Sessions keeps the web UI's login sessions, so a session survives a
// restart and logging out ends it for good. Like Stacks it lives in the
// event store's file behind its own small interface.
type Sessions interface {
	// Put stores s under key, replacing any session there.
	Put(ctx context.Context, key string, s Session) error
	// Get returns the session under key, or ErrSessionNotFound.
	Get(ctx context.Context, key string) (Session, error)
	// Delete removes the session under key; a missing one is no error.
	Delete(ctx context.Context, key string) error
	// DeleteExpired removes every session that expired before now.
	DeleteExpired(ctx context.Context, now time.Time) error
}

// Session is one stored login session. It holds no secret that opens
// anything: the caller keys it by a hash of the session id and binds it to
// a credential by another hash (see server/auth/sessions.go).
type Session struct {
	Binding string    `json:"binding"`
	Expires time.Time `json:"expires"`
}

// ErrSessionNotFound is Get's answer for an unknown (or revoked) session.
var ErrSessionNotFound = errors.New("store: session not found")

// bkSessions holds sessions: key → JSON of Session.
var bkSessions = []byte("sessions")

// boltSessions is Sessions on the event store's bbolt file.
type boltSessions struct{ db *bolt.DB }

// NewSessions returns the sessions kept in st's file. st must come from Open or
// hold a View (see fileOf).
func NewSessions(st Store) (Sessions, error) {
	db, err := fileOf(st)
	if err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bkSessions)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: sessions: bucket: %w", err)
	}
	return &boltSessions{db: db}, nil
}

func (b *boltSessions) Put(ctx context.Context, key string, s Session) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: put session: %w", err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("store: encode session: %w", err)
	}
	if err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bkSessions).Put([]byte(key), data)
	}); err != nil {
		return fmt.Errorf("store: put session: %w", noSpace(err))
	}
	return nil
}

func (b *boltSessions) Get(ctx context.Context, key string) (Session, error) {
	if err := ctx.Err(); err != nil {
		return Session{}, fmt.Errorf("store: get session: %w", err)
	}
	var s Session
	err := b.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bkSessions).Get([]byte(key))
		if data == nil {
			return ErrSessionNotFound
		}
		return json.Unmarshal(data, &s)
	})
	if err != nil {
		return Session{}, fmt.Errorf("store: get session: %w", err)
	}
	return s, nil
}

func (b *boltSessions) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	if err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bkSessions).Delete([]byte(key))
	}); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

func (b *boltSessions) DeleteExpired(ctx context.Context, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: delete expired sessions: %w", err)
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bkSessions)
		var expired [][]byte
		err := bk.ForEach(func(k, v []byte) error {
			var s Session
			if json.Unmarshal(v, &s) != nil || s.Expires.Before(now) {
				expired = append(expired, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return nil
}
