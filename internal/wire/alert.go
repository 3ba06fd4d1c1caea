package wire

import (
	"encoding/json"
	"fmt"
	"time"
)

// Kinds of alert rules: what a rule watches.
const (
	AlertKindEvent = "event" // container events (die, oom, health_status…)
	AlertKindLog   = "log"   // container log lines
	AlertKindStats = "stats" // container CPU and memory samples
)

// Event types of the alert records in the event store.
const (
	// AlertEventType is the type of a firing: one event per alert.
	AlertEventType = "alert"
	// AlertDeliveryEventType is the type of the outcome of delivering one
	// firing to one target, appended once that delivery succeeded or gave up.
	AlertDeliveryEventType = "alert-delivery"
)

// AlertRule is an alert rule as /api/v1/alerts reads and writes it.
// Filters is the /events/ws filter JSON selecting the containers (and, for
// event rules, the actions) the rule watches. When is an expr-lang
// expression over the facts of the rule's kind. For is how long When must
// hold before the rule fires; Count and Within make it fire on the Count-th
// match within Within; Cooldown is the quiet time after a firing, per
// container. Notify lists Shoutrrr URLs and plain http(s) webhook URLs.
// LastFired, the time of the rule's newest stored firing, is set by the
// server in the list it answers and ignored in a rule sent to it.
type AlertRule struct {
	ID       int64           `json:"id"`
	Name     string          `json:"name"`
	Enabled  bool            `json:"enabled"`
	Kind     string          `json:"kind"`
	Filters  json.RawMessage `json:"filters,omitempty"`
	When     string          `json:"when"`
	For      Duration        `json:"for,omitzero"`
	Count    int             `json:"count,omitempty"`
	Within   Duration        `json:"within,omitzero"`
	Cooldown Duration        `json:"cooldown,omitzero"`
	Notify   []string        `json:"notify"`
	Created  time.Time       `json:"created,omitzero"`
	Updated  time.Time       `json:"updated,omitzero"`
	// LastFired is read-only: see above.
	LastFired time.Time `json:"lastFired,omitzero"`
}

// AlertPreset is a ready-made rule the UI and API offer: a starting point
// the user names, narrows with filters and gives targets.
type AlertPreset struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Rule        AlertRule `json:"rule"`
}

// AlertContainer names the container an alert is about.
type AlertContainer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Image string `json:"image"`
}

// Alert is one firing of a rule: the value of the stored "alert" event and,
// as is, the JSON body every http(s) webhook target receives. Event is the
// container event that fired an event rule. Test marks a notification sent
// by POST /api/v1/alerts/{id}/test, which is never stored.
type Alert struct {
	Rule      string          `json:"rule"`
	RuleID    int64           `json:"ruleId"`
	Host      string          `json:"host"`
	Container AlertContainer  `json:"container"`
	Kind      string          `json:"kind"`
	Message   string          `json:"message"`
	Time      time.Time       `json:"time"`
	Event     *ContainerEvent `json:"event,omitempty"`
	Test      bool            `json:"test,omitempty"`
}

// AlertDelivery is the outcome of delivering one alert to one target: the
// value of an "alert-delivery" event (AlertID is the "alert" event's store
// id) and an entry of the answer of a test notification. Target is the URL
// with its secrets removed. Error is empty when OK.
type AlertDelivery struct {
	AlertID  uint64    `json:"alertId,omitempty"`
	Rule     string    `json:"rule"`
	Target   string    `json:"target"`
	OK       bool      `json:"ok"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error,omitempty"`
	Time     time.Time `json:"time"`
}

// Duration is a time.Duration written in JSON as Go duration text ("90s",
// "5m", "1h30m"). It also reads a number of seconds.
type Duration time.Duration

// MarshalJSON writes d as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads duration text or seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err := json.Unmarshal(b, &secs); err != nil {
			return fmt.Errorf("want a duration such as \"90s\" or \"5m\", got %s", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"90s\" or \"5m\": %w", err)
	}
	*d = Duration(v)
	return nil
}
