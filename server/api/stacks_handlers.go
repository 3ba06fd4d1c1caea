package api

import (
	"net/http"
	"strconv"

	"github.com/crowsnest-hq/crowsnest/internal/body"
	"github.com/crowsnest-hq/crowsnest/internal/stacks"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// stacksReady answers 503 when the stack manager is not running (tests
// that build a Server without run) and reports whether it is.
func (s *Server) stacksReady(w http.ResponseWriter) bool {
	if s.stacks == nil {
		respond.Error(w, http.StatusServiceUnavailable, "stacks are not available")
		return false
	}
	return true
}

// handleListStacks serves GET /api/v1/stacks: every stack with its status
// read from the engines now, then the external ones.
func (s *Server) handleListStacks(w http.ResponseWriter, r *http.Request) {
	if !s.stacksReady(w) {
		return
	}
	list, err := s.stacks.List(r.Context())
	if err != nil {
		s.fail(w, r, "listing stacks", err)
		return
	}
	respond.JSON(w, http.StatusOK, list)
}

// handleCreateStack serves POST /api/v1/stacks: validate and store, 201.
func (s *Server) handleCreateStack(w http.ResponseWriter, r *http.Request) {
	if !s.stacksReady(w) {
		return
	}
	req, ok := s.readStackRequest(w, r)
	if !ok {
		return
	}
	st, err := s.stacks.Create(r.Context(), req)
	if err != nil {
		s.fail(w, r, "creating a stack", err)
		return
	}
	w.Header().Set("Location", "/api/v1/stacks/"+strconv.FormatInt(st.ID, 10))
	respond.JSON(w, http.StatusCreated, st)
}

// handleGetStack serves GET /api/v1/stacks/{id}: whole for an admin, the
// .env values masked for a read credential.
func (s *Server) handleGetStack(w http.ResponseWriter, r *http.Request) {
	id, ok := s.stackID(w, r)
	if !ok {
		return
	}
	st, err := s.stacks.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, "reading a stack", err)
		return
	}
	if !s.callerIsAdmin(r) {
		st.Env = stacks.MaskEnv(st.Env) // .env values are secrets; a reader sees the keys
	}
	respond.JSON(w, http.StatusOK, st)
}

// handleReplaceStack serves PUT /api/v1/stacks/{id}: new compose and env
// texts, deployed by the next deploy.
func (s *Server) handleReplaceStack(w http.ResponseWriter, r *http.Request) {
	id, ok := s.stackID(w, r)
	if !ok {
		return
	}
	req, ok := s.readStackRequest(w, r)
	if !ok {
		return
	}
	st, err := s.stacks.Replace(r.Context(), id, req)
	if err != nil {
		s.fail(w, r, "replacing a stack", err)
		return
	}
	respond.JSON(w, http.StatusOK, st)
}

// handleDeleteStack serves DELETE /api/v1/stacks/{id}: compose down
// (containers, networks, named volumes) then the record, in the
// background; 202, and stack-removed on /stacks when done.
func (s *Server) handleDeleteStack(w http.ResponseWriter, r *http.Request) {
	s.stackAction(w, r, stacks.Remove)
}

// handleStackAction serves POST /api/v1/stacks/{id}/{action}.
func (s *Server) handleStackAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	switch action {
	case stacks.Deploy, stacks.Start, stacks.Stop, stacks.Restart, stacks.Pull:
	default:
		respond.Error(w, http.StatusNotFound, "unknown stack action "+strconv.Quote(action)+" (deploy, start, stop, restart, pull)")
		return
	}
	s.stackAction(w, r, action)
}

// stackAction starts an action and answers 202 with the record as it
// begins; 409 while another action runs on the stack.
func (s *Server) stackAction(w http.ResponseWriter, r *http.Request, action string) {
	id, ok := s.stackID(w, r)
	if !ok {
		return
	}
	st, err := s.stacks.Act(r.Context(), id, action)
	if err != nil {
		s.fail(w, r, "stack "+action, err)
		return
	}
	respond.JSON(w, http.StatusAccepted, st)
}

// stackID parses the {id} path value; it answers 400 itself.
func (s *Server) stackID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	if !s.stacksReady(w) {
		return 0, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		respond.Error(w, http.StatusBadRequest, "stack id: want a positive integer, got "+strconv.Quote(r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// readStackRequest reads a JSON {name, compose, env, host} body of at most
// body.MaxSize; it answers 400/413 itself.
func (s *Server) readStackRequest(w http.ResponseWriter, r *http.Request) (wire.StackRequest, bool) {
	var req wire.StackRequest
	data, err := readBody(w, r)
	if err == nil {
		err = body.Decode(body.JSON, data, &req)
	}
	if err != nil {
		s.fail(w, r, "reading a stack", invalid(err))
		return req, false
	}
	return req, true
}
