package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/alerts"
	"github.com/crowsnest-hq/crowsnest/internal/body"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/auth"
	"github.com/crowsnest-hq/crowsnest/server/respond"
)

// alertsReady answers 503 when the alerts are not running (tests that
// build a Server without run) and reports whether they are.
func (s *Server) alertsReady(w http.ResponseWriter) bool {
	if s.alerts == nil {
		respond.Error(w, http.StatusServiceUnavailable, "alerts are not available")
		return false
	}
	return true
}

// handleListAlerts serves GET /api/v1/alerts: every rule, by id.
func (s *Server) handleListAlerts(w http.ResponseWriter, r *http.Request) {
	if !s.alertsReady(w) {
		return
	}
	list, err := s.alerts.List(r.Context())
	if err != nil {
		s.fail(w, r, "listing alert rules", err)
		return
	}
	if list == nil {
		list = []wire.AlertRule{}
	}
	admin := s.callerIsAdmin(r)
	for i := range list {
		list[i] = redactRule(list[i], admin)
	}
	if err := s.setLastFired(r.Context(), list); err != nil {
		s.fail(w, r, "listing alert rules", err)
		return
	}
	respond.JSON(w, http.StatusOK, list)
}

// handleAlertPresets serves GET /api/v1/alerts/presets.
func (s *Server) handleAlertPresets(w http.ResponseWriter, r *http.Request) {
	respond.JSON(w, http.StatusOK, alerts.Presets())
}

// handleCreateAlert serves POST /api/v1/alerts: validate, store, 201.
func (s *Server) handleCreateAlert(w http.ResponseWriter, r *http.Request) {
	if !s.alertsReady(w) {
		return
	}
	rule, err := readAlertRule(w, r)
	if err != nil {
		s.fail(w, r, "creating an alert rule", err)
		return
	}
	stored, err := s.alerts.Create(r.Context(), rule)
	if err != nil {
		s.fail(w, r, "creating an alert rule", err)
		return
	}
	w.Header().Set("Location", "/api/v1/alerts/"+strconv.FormatInt(stored.ID, 10))
	respond.JSON(w, http.StatusCreated, stored)
}

// handleGetAlert serves GET /api/v1/alerts/{id}.
func (s *Server) handleGetAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := s.alertID(w, r)
	if !ok {
		return
	}
	rule, err := s.alerts.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, "reading an alert rule", err)
		return
	}
	respond.JSON(w, http.StatusOK, redactRule(rule, s.callerIsAdmin(r)))
}

// handleReplaceAlert serves PUT /api/v1/alerts/{id}: the whole rule anew.
func (s *Server) handleReplaceAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := s.alertID(w, r)
	if !ok {
		return
	}
	rule, err := readAlertRule(w, r)
	if err != nil {
		s.fail(w, r, "replacing an alert rule", err)
		return
	}
	stored, err := s.alerts.Update(r.Context(), id, rule)
	if err != nil {
		s.fail(w, r, "replacing an alert rule", err)
		return
	}
	respond.JSON(w, http.StatusOK, stored)
}

// handleDeleteAlert serves DELETE /api/v1/alerts/{id}: 204.
func (s *Server) handleDeleteAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := s.alertID(w, r)
	if !ok {
		return
	}
	if err := s.alerts.Delete(r.Context(), id); err != nil {
		s.fail(w, r, "deleting an alert rule", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleTestAlert serves POST /api/v1/alerts/{id}/test: one test
// notification to each target, answered with each outcome.
func (s *Server) handleTestAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := s.alertID(w, r)
	if !ok {
		return
	}
	out, err := s.alerts.Test(r.Context(), id)
	if err != nil {
		s.fail(w, r, "testing an alert rule", err)
		return
	}
	if out == nil {
		out = []wire.AlertDelivery{}
	}
	respond.JSON(w, http.StatusOK, out)
}

// callerIsAdmin reports whether r's credential holds the admin scope; an
// open server treats everyone as admin.
func (s *Server) callerIsAdmin(r *http.Request) bool {
	if !s.auth.Configured() {
		return true
	}
	sc, ok := s.auth.CallerScope(r)
	return ok && sc >= auth.ScopeAdmin
}

// redactRule hides the secrets of a rule's notify URLs (alerts.RedactTarget)
// from callers without the admin scope. An admin reads them whole, so the
// UI's form saves a rule unchanged with its real targets.
func redactRule(rule wire.AlertRule, admin bool) wire.AlertRule {
	if admin {
		return rule
	}
	safe := make([]string, len(rule.Notify))
	for i, u := range rule.Notify {
		safe[i] = alerts.RedactTarget(u)
	}
	rule.Notify = safe
	return rule
}

// alertID parses the {id} path value; it answers 400 (or 503) itself.
func (s *Server) alertID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	if !s.alertsReady(w) {
		return 0, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		respond.Error(w, http.StatusBadRequest, "alert id: want a positive integer, got "+strconv.Quote(r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// readAlertRule reads a JSON rule of at most body.MaxSize. Unknown fields
// are refused, so a misspelt "cooldown" is an error rather than a rule
// without one.
func readAlertRule(w http.ResponseWriter, r *http.Request) (wire.AlertRule, error) {
	var rule wire.AlertRule
	data, err := readBody(w, r)
	if err != nil {
		return rule, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return rule, invalid(errors.New("body: empty; want a rule {name, enabled, kind, filters, when, for, count, within, cooldown, notify}"))
	}
	if err := body.Decode(body.JSON, data, &rule); err != nil {
		return rule, invalid(err)
	}
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&wire.AlertRule{}); err != nil {
		return rule, invalid(fmt.Errorf("body: %w", err))
	}
	rule.LastFired = time.Time{} // the server's to say
	return rule, nil
}
