package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestAlertListCarriesLastFiring: GET /api/v1/alerts gives each rule the
// time of its newest stored firing, so the alerts page needs one request
// rather than one a rule; a rule that never fired has none, and a lastFired
// sent in a rule is not stored.
func TestAlertListCarriesLastFiring(t *testing.T) {
	s := alertServer(t, "--host", noEngine)
	fired := wire.AlertRule{Name: "fired", Enabled: true, Kind: wire.AlertKindEvent, When: `action == "die"`, Notify: []string{"https://hooks.example/x"}}
	quiet := fired
	quiet.Name, quiet.LastFired = "quiet", time.Now()
	createRule(t, s, fired)
	createRule(t, s, quiet)
	older := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	newer := older.Add(30 * time.Minute)
	for _, at := range []time.Time{older, newer} {
		ev := map[string]any{"type": wire.AlertEventType, "tags": []string{"alert:fired"}, "timestamp": at, "value": map[string]any{"rule": "fired"}}
		mustAPI(t, s, "POST", "/api/v1/events", ev, nil, http.StatusCreated)
	}
	var list []wire.AlertRule
	mustAPI(t, s, "GET", "/api/v1/alerts", nil, &list, http.StatusOK)
	got := map[string]time.Time{}
	for _, r := range list {
		got[r.Name] = r.LastFired
	}
	if !got["fired"].Equal(newer) {
		t.Errorf("fired: lastFired %v, want the newest firing %v", got["fired"], newer)
	}
	if q, ok := got["quiet"]; !ok || !q.IsZero() {
		t.Errorf("quiet: lastFired %v (listed %v), want none", q, ok)
	}
}
