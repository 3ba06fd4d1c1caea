package natsstore

import (
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// AlertRulesBucket is the key-value bucket of the alert rules.
const AlertRulesBucket = "crowsnest-alert-rules"

// The bucket's records are a store.Watcher, so AlertRulesOn makes the rules
// one too.
var _ store.Watcher = (*records[wire.AlertRule])(nil)

// NewAlertRules returns the alert rules of the replicas sharing st's
// servers, in a JetStream key-value bucket, so every replica evaluates the
// same rules. They are a store.Watcher: a replica hears of every change
// another makes.
func NewAlertRules(st *Store) store.AlertRules {
	return store.AlertRulesOn(&records[wire.AlertRule]{
		st: st, bucket: AlertRulesBucket, what: "alert rule",
		notFound: store.ErrAlertRuleNotFound, exists: store.ErrAlertRuleExists,
		meta: func(r *wire.AlertRule) recordMeta { return recordMeta{&r.ID, &r.Created, &r.Updated} },
		name: func(r *wire.AlertRule) string { return r.Name },
	})
}
