package wire

import "time"

// GapEventType is the store type of the events that say where the record of
// an engine is not provably complete.
const GapEventType = "gap"

// Reasons a gap is recorded.
const (
	// GapEngineRestart: the engine forgot its event memory (it restarted)
	// while crowsnest was not subscribed.
	GapEngineRestart = "engine-restart"
	// GapOutage: crowsnest was cut off from the engine for longer than the
	// engine's event memory (256 events) covers.
	GapOutage = "outage"
	// GapOverflow: crowsnest's own ingest queue overflowed and, by the time
	// it resubscribed, the engine had already forgotten what was missed.
	GapOverflow = "overflow"
	// GapEventLog: the engine's event log (Podman's file or journal, which
	// outlives the engine's restarts) no longer holds the last stored
	// event: it was rotated, pruned or reset.
	GapEventLog = "event-log"
)

// ReconciledAttribute marks a container event crowsnest recorded from the
// engine's container list after a gap, rather than from the engine's event
// stream; its time is when the change was found, not when it happened.
const ReconciledAttribute = "crowsnest.reconciled"

// ReconciledGapAttribute is set on reconciled events to the start of the gap
// they close (Gap.From, RFC 3339 with nanoseconds). Replicas that reconcile
// the same gap find the same changes at different times: the gap, not the
// time, makes each change one record.
const ReconciledGapAttribute = "crowsnest.gap"

// Gap is one window of an engine's history that crowsnest cannot prove it
// holds completely: the value of an event of type "gap", tagged host:NAME and
// reason:REASON.
type Gap struct {
	Host    string    `json:"host"`
	Reason  string    `json:"reason"`
	From    time.Time `json:"from"` // the last event known to be stored
	To      time.Time `json:"to"`   // the engine's clock when the stream resumed
	Message string    `json:"message"`
}
