package store

import (
	"context"
	"errors"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// AlertRules keeps alert rules. Like Stacks it shares the event log's file
// behind its own small interface, so the alerts package never sees bbolt.
type AlertRules interface {
	// Create stores r under a new id (Created and Updated set to now) and
	// returns it. A rule of the same name is ErrAlertRuleExists.
	Create(ctx context.Context, r wire.AlertRule) (wire.AlertRule, error)
	// Get returns the rule with id, or ErrAlertRuleNotFound.
	Get(ctx context.Context, id int64) (wire.AlertRule, error)
	// List returns every rule, by id.
	List(ctx context.Context) ([]wire.AlertRule, error)
	// Replace overwrites rule r.ID with r, keeping Created and setting
	// Updated to now when anything changed. A missing rule is ErrAlertRuleNotFound; a name taken
	// by another rule is ErrAlertRuleExists.
	Replace(ctx context.Context, r wire.AlertRule) (wire.AlertRule, error)
	// Delete removes the rule; a missing one is ErrAlertRuleNotFound.
	Delete(ctx context.Context, id int64) error
}

// Errors of AlertRules.
var (
	ErrAlertRuleNotFound = errors.New("store: alert rule not found")
	ErrAlertRuleExists   = errors.New("store: an alert rule of that name already exists")
)

// Buckets of the alert rules:
//
//	alertrules  id (8 bytes big-endian) → JSON of wire.AlertRule
//	alertnames  name → id
var (
	bkAlertRules = []byte("alertrules")
	bkAlertNames = []byte("alertnames")
)

// NewAlertRules returns the alert rules kept in st's file. st must come
// from Open or hold a View (see fileOf).
func NewAlertRules(st Store) (AlertRules, error) {
	recs, err := openRecords(st, records[wire.AlertRule]{
		what: "alert rule", recs: bkAlertRules, names: bkAlertNames,
		notFound: ErrAlertRuleNotFound, exists: ErrAlertRuleExists,
		meta: func(r *wire.AlertRule) recordMeta { return recordMeta{&r.ID, &r.Created, &r.Updated} },
		name: func(r *wire.AlertRule) []byte { return []byte(r.Name) },
	})
	if err != nil {
		return nil, err
	}
	return AlertRulesOn(recs), nil
}

// AlertRulesOn returns the AlertRules kept in t; they are a Watcher when t
// is.
func AlertRulesOn(t Table[wire.AlertRule]) AlertRules {
	rules := ruleTable{t}
	if w, ok := t.(Watcher); ok {
		return watchedRuleTable{rules, w}
	}
	return rules
}

// ruleTable is AlertRules on a Table.
type ruleTable struct{ Table[wire.AlertRule] }

// Replace overwrites rule r.ID with r; see AlertRules.
func (t ruleTable) Replace(ctx context.Context, r wire.AlertRule) (wire.AlertRule, error) {
	return t.Update(ctx, r.ID, func(old *wire.AlertRule) error {
		*old = r
		return nil
	})
}

// watchedRuleTable is AlertRules on a Table shared between processes.
type watchedRuleTable struct {
	ruleTable
	Watcher
}
