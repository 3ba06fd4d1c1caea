// Package alerts evaluates alert rules over container events, log lines
// and stats samples, records every firing in the event store and delivers
// it to the rule's targets.
//
// A rule (wire.AlertRule) is validated and compiled once, when it is saved
// (Compile): its filters by internal/filter, its "when" expression by
// expr-lang against the documented facts of its kind (EventFacts,
// LogFacts, StatsFacts), its targets by scheme. Alerts keeps the rules in
// store.AlertRules; when replicas share them (a store.Watcher), a rule
// saved through another replica is compiled as the watch reports it. It
// evaluates the enabled ones:
//
//   - event rules on the container events appended to the store after Run
//     starts, so a restart never fires old matches again;
//   - log rules on the containers their filters select, through one
//     LogFollower subscription each (phase 2 wires internal/logs Streams,
//     sharing the follow viewers use);
//   - stats rules on the latest samples of Containers, polled.
//
// Every firing is appended as an event of type "alert" (wire.Alert as
// value; tags alert:<rule>, container:<name>, host:<host>). Each target has
// its own queue and worker, retries with backoff and a timeout per
// attempt, so one slow or dead target delays nobody else; when a delivery
// succeeds or gives up, its outcome is appended as an event of type
// "alert-delivery" (wire.AlertDelivery; tags alert:<rule> and
// delivery:ok or delivery:failed), so failures are in the history and on
// the stream like everything else.
package alerts
