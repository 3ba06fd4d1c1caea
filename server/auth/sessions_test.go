package auth

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/store"
)

// TestSessionExpires: a session is refused, and forgotten, once
// SessionMaxAge has passed.
func TestSessionExpires(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	a := authTestAuthenticator(t, &bytes.Buffer{}, now)
	id := testSession(t, a, testReadToken)
	if _, ok := a.session(context.Background(), id); !ok {
		t.Fatal("fresh session refused")
	}
	a.now = func() time.Time { return now.Add(SessionMaxAge + time.Second) }
	if _, ok := a.session(context.Background(), id); ok {
		t.Fatal("expired session accepted")
	}
	if _, err := a.sessions.Get(context.Background(), sessionKey(id)); !errors.Is(err, store.ErrSessionNotFound) {
		t.Errorf("expired session still stored: %v", err)
	}
}
