package api

import (
	"net/http"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/auth"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// handleSession tells the caller what its credential allows. It is public:
// the UI asks before it knows whether it may ask anything else, and the
// answer reveals only the caller's own scope. The verdict is the
// authenticator's own (CallerScope), so the UI never offers an action that
// Require would then refuse. A wrong credential is not an error here:
// it is simply no scope.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store") // it changes with login and logout
	if !s.auth.Configured() {
		respond.JSON(w, http.StatusOK, wire.Session{Auth: false, Scope: auth.ScopeAdmin.String(), Exec: !s.exec.Disabled})
		return
	}
	sess := wire.Session{Auth: true}
	if sc, ok := s.auth.CallerScope(r); ok {
		sess.Scope = sc.String()
		sess.Exec = sc >= auth.ScopeAdmin && !s.exec.Disabled
	}
	respond.JSON(w, http.StatusOK, sess)
}
