package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/store"
)

// The session cookie holds a random session id, never a token. The store
// keeps, per session, only
//
//   - its key, the SHA-256 of the id, so a copy of the data directory holds
//     no cookie that would open a session;
//   - its binding, the SHA-256 of the id and the digest of the token that
//     logged in, so the session is worth exactly that token's scope, and
//     nothing once the token is no longer configured (removing a token
//     revokes its sessions, at the next start);
//   - its expiry, SessionMaxAge after the login.
//
// Logging out deletes the session, so a copy of the cookie is worthless
// from then on.

// sessionIDBytes is the entropy of a session id.
const sessionIDBytes = 32

// SessionMaxAge is how long a session, and the cookie holding its id,
// lives. A cookie that ended with the browser session would log users of
// the installed PWA out every time they close its window; a week bounds
// how long a forgotten login on a shared machine stays usable.
const SessionMaxAge = 7 * 24 * time.Hour

// ErrUnknownToken is Login's answer to a token that is not configured.
var ErrUnknownToken = errors.New("unknown token")

// errNoSessions means no session store was given (UseSessions).
var errNoSessions = errors.New("no session store")

// sessionKey is the store key of session id.
func sessionKey(id string) string {
	sum := sha256.Sum256([]byte("crowsnest session key\x00" + id))
	return hex.EncodeToString(sum[:])
}

// sessionBinding ties session id to the token whose digest is given.
func sessionBinding(id string, digest [sha256.Size]byte) []byte {
	sum := sha256.Sum256(append([]byte("crowsnest session binding\x00"+id+"\x00"), digest[:]...))
	return []byte(hex.EncodeToString(sum[:]))
}

// UseSessions keeps the UI's login sessions in s. Until it is called,
// every session cookie is invalid and Login fails.
func (a *Authenticator) UseSessions(s store.Sessions) {
	a.sessions = s
}

// Session is a login: the id the session cookie carries, and the
// configured token it was opened with (named by its id, never its secret).
type Session struct {
	ID         string
	Credential string
	Scope      Scope
}

// Login opens a session for token when it is a configured bearer token;
// ErrUnknownToken when it is not.
func (a *Authenticator) Login(ctx context.Context, token string) (Session, error) {
	cred, ok := a.lookupToken(token)
	if !ok {
		return Session{}, ErrUnknownToken
	}
	id, err := a.openSession(ctx, cred)
	if err != nil {
		return Session{}, err
	}
	return Session{ID: id, Credential: cred.id, Scope: cred.scope}, nil
}

// Logout ends session id: its cookie is worthless from then on.
func (a *Authenticator) Logout(ctx context.Context, id string) error {
	return a.closeSession(ctx, id)
}

// SessionScope is the scope of session id when it is live.
func (a *Authenticator) SessionScope(ctx context.Context, id string) (Scope, bool) {
	t, ok := a.session(ctx, id)
	return t.scope, ok
}

// openSession starts a session for the configured token cred and returns
// its id, the cookie's value. Expired sessions are swept on the way, so
// the bucket holds at most a week of logins.
func (a *Authenticator) openSession(ctx context.Context, cred tokenCred) (string, error) {
	if a.sessions == nil {
		return "", errNoSessions
	}
	b := make([]byte, sessionIDBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	now := a.now()
	if err := a.sessions.DeleteExpired(ctx, now); err != nil {
		return "", fmt.Errorf("sweep sessions: %w", err)
	}
	s := store.Session{Binding: string(sessionBinding(id, cred.digest)), Expires: now.Add(SessionMaxAge)}
	if err := a.sessions.Put(ctx, sessionKey(id), s); err != nil {
		return "", fmt.Errorf("store session: %w", err)
	}
	return id, nil
}

// session is the configured token behind session id, if the session
// exists, has not expired and its token is still configured. An expired
// session, or one whose token is gone, is deleted.
func (a *Authenticator) session(ctx context.Context, id string) (tokenCred, bool) {
	if a.sessions == nil || id == "" {
		return tokenCred{}, false
	}
	key := sessionKey(id)
	s, err := a.sessions.Get(ctx, key)
	if err != nil {
		if !errors.Is(err, store.ErrSessionNotFound) {
			a.log.Warn("session lookup failed", "err", err)
		}
		return tokenCred{}, false
	}
	found := -1
	if a.now().Before(s.Expires) {
		for i := range a.tokens { // every one, in constant time, as lookupToken does
			if subtle.ConstantTimeCompare(sessionBinding(id, a.tokens[i].digest), []byte(s.Binding)) == 1 {
				found = i
			}
		}
	}
	if found < 0 {
		if err := a.sessions.Delete(ctx, key); err != nil {
			a.log.Warn("dropping a dead session failed", "err", err)
		}
		return tokenCred{}, false
	}
	return a.tokens[found], true
}

// closeSession deletes session id (logout). An unknown id is no error.
func (a *Authenticator) closeSession(ctx context.Context, id string) error {
	if a.sessions == nil || id == "" {
		return nil
	}
	if err := a.sessions.Delete(ctx, sessionKey(id)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
