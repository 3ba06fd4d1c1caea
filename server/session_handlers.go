package main

import (
	"net/http"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// handleSession tells the caller what its credential allows. It is public:
// the UI asks before it knows whether it may ask anything else, and the
// answer reveals only the caller's own scope. The verdict is the
// authenticator's own (check), so the UI never offers an action that
// authorize would then refuse. A wrong credential is not an error here:
// it is simply no scope.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store") // it changes with login and logout
	a := s.auth
	if !a.configured() {
		writeJSON(w, http.StatusOK, wire.Session{Auth: false, Scope: scopeAdmin.String()})
		return
	}
	_, o := a.check(r)
	sess := wire.Session{Auth: true}
	if o.p != nil {
		sess.Scope = o.p.scope.String()
	}
	writeJSON(w, http.StatusOK, sess)
}
