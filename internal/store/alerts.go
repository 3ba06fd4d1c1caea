package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

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
	// Updated to now. A missing rule is ErrAlertRuleNotFound; a name taken
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

// boltAlertRules is AlertRules on the event store's bbolt file.
type boltAlertRules struct{ db *bolt.DB }

// NewAlertRules returns the alert rules kept in st's file. st must come
// from Open or hold a View (see fileOf).
func NewAlertRules(st Store) (AlertRules, error) {
	db, err := fileOf(st)
	if err != nil {
		return nil, fmt.Errorf("store: alert rules: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bkAlertRules, bkAlertNames} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: alert rules: %w", err)
	}
	return &boltAlertRules{db: db}, nil
}

func alertKey(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

func (b *boltAlertRules) Create(ctx context.Context, r wire.AlertRule) (wire.AlertRule, error) {
	if err := ctx.Err(); err != nil {
		return wire.AlertRule{}, fmt.Errorf("store: create alert rule: %w", err)
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		names := tx.Bucket(bkAlertNames)
		if names.Get([]byte(r.Name)) != nil {
			return ErrAlertRuleExists
		}
		recs := tx.Bucket(bkAlertRules)
		seq, err := recs.NextSequence()
		if err != nil {
			return fmt.Errorf("next id: %w", err)
		}
		r.ID = int64(seq)
		now := time.Now().UTC()
		r.Created, r.Updated = now, now
		if err := putAlertRule(recs, r); err != nil {
			return err
		}
		return names.Put([]byte(r.Name), alertKey(r.ID))
	})
	if err != nil {
		return wire.AlertRule{}, fmt.Errorf("store: create alert rule %q: %w", r.Name, err)
	}
	return r, nil
}

func (b *boltAlertRules) Get(ctx context.Context, id int64) (wire.AlertRule, error) {
	if err := ctx.Err(); err != nil {
		return wire.AlertRule{}, fmt.Errorf("store: get alert rule: %w", err)
	}
	var r wire.AlertRule
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getAlertRule(tx.Bucket(bkAlertRules), id)
		return err
	})
	if err != nil {
		return wire.AlertRule{}, fmt.Errorf("store: get alert rule %d: %w", id, err)
	}
	return r, nil
}

func (b *boltAlertRules) List(ctx context.Context) ([]wire.AlertRule, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: list alert rules: %w", err)
	}
	var out []wire.AlertRule
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bkAlertRules).ForEach(func(k, v []byte) error {
			var r wire.AlertRule
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("alert rule %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list alert rules: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (b *boltAlertRules) Replace(ctx context.Context, r wire.AlertRule) (wire.AlertRule, error) {
	if err := ctx.Err(); err != nil {
		return wire.AlertRule{}, fmt.Errorf("store: replace alert rule: %w", err)
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		recs, names := tx.Bucket(bkAlertRules), tx.Bucket(bkAlertNames)
		old, err := getAlertRule(recs, r.ID)
		if err != nil {
			return err
		}
		if old.Name != r.Name {
			if names.Get([]byte(r.Name)) != nil {
				return ErrAlertRuleExists
			}
			if err := names.Delete([]byte(old.Name)); err != nil {
				return fmt.Errorf("name index: %w", err)
			}
			if err := names.Put([]byte(r.Name), alertKey(r.ID)); err != nil {
				return fmt.Errorf("name index: %w", err)
			}
		}
		r.Created, r.Updated = old.Created, time.Now().UTC()
		return putAlertRule(recs, r)
	})
	if err != nil {
		return wire.AlertRule{}, fmt.Errorf("store: replace alert rule %d: %w", r.ID, err)
	}
	return r, nil
}

func (b *boltAlertRules) Delete(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: delete alert rule: %w", err)
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bkAlertRules)
		r, err := getAlertRule(recs, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bkAlertNames).Delete([]byte(r.Name)); err != nil {
			return fmt.Errorf("name index: %w", err)
		}
		return recs.Delete(alertKey(id))
	})
	if err != nil {
		return fmt.Errorf("store: delete alert rule %d: %w", id, err)
	}
	return nil
}

func getAlertRule(b *bolt.Bucket, id int64) (wire.AlertRule, error) {
	v := b.Get(alertKey(id))
	if v == nil {
		return wire.AlertRule{}, ErrAlertRuleNotFound
	}
	var r wire.AlertRule
	if err := json.Unmarshal(v, &r); err != nil {
		return wire.AlertRule{}, fmt.Errorf("decoding alert rule %d: %w", id, err)
	}
	return r, nil
}

func putAlertRule(b *bolt.Bucket, r wire.AlertRule) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding alert rule %d: %w", r.ID, err)
	}
	if err := b.Put(alertKey(r.ID), v); err != nil {
		return fmt.Errorf("writing alert rule %d: %w", r.ID, err)
	}
	return nil
}
