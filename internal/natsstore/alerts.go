package natsstore

import (
	"context"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// AlertRulesBucket is the key-value bucket of the alert rules.
const AlertRulesBucket = "crowsnest-alert-rules"

// AlertRules is store.AlertRules in a JetStream key-value bucket, so every
// replica evaluates the same rules.
type AlertRules struct{ recs *records[wire.AlertRule] }

var (
	_ store.AlertRules = AlertRules{}
	_ store.Watcher    = AlertRules{}
)

// NewAlertRules returns the alert rules of the replicas sharing st's
// servers.
func NewAlertRules(st *Store) AlertRules {
	return AlertRules{&records[wire.AlertRule]{
		st: st, bucket: AlertRulesBucket, what: "alert rule",
		notFound: store.ErrAlertRuleNotFound, exists: store.ErrAlertRuleExists,
		meta: func(r *wire.AlertRule) recordMeta { return recordMeta{&r.ID, &r.Created, &r.Updated} },
		name: func(r *wire.AlertRule) string { return r.Name },
	}}
}

// Create stores r under a new id; see store.AlertRules.
func (a AlertRules) Create(ctx context.Context, r wire.AlertRule) (wire.AlertRule, error) {
	return a.recs.create(ctx, r)
}

// Get returns the rule with id; see store.AlertRules.
func (a AlertRules) Get(ctx context.Context, id int64) (wire.AlertRule, error) {
	return a.recs.get(ctx, id)
}

// List returns every rule, by id.
func (a AlertRules) List(ctx context.Context) ([]wire.AlertRule, error) {
	return a.recs.list(ctx)
}

// Replace overwrites rule r.ID with r; see store.AlertRules.
func (a AlertRules) Replace(ctx context.Context, r wire.AlertRule) (wire.AlertRule, error) {
	return a.recs.update(ctx, r.ID, func(old *wire.AlertRule) error {
		*old = r
		return nil
	})
}

// Delete removes the rule; see store.AlertRules.
func (a AlertRules) Delete(ctx context.Context, id int64) error {
	return a.recs.remove(ctx, id)
}

// Watch calls changed after every change of a rule by any replica; see
// store.Watcher.
func (a AlertRules) Watch(ctx context.Context, changed func()) error {
	return a.recs.watch(ctx, changed)
}
