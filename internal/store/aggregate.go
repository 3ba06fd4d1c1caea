package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// Validate reports an aggregator this store cannot compute. Errors are
// *FieldError.
func (a Aggregator) Validate() error {
	switch a.Type {
	case "count":
		return nil
	case "average", "min", "max":
		if a.Field == "" {
			return fieldErr("aggregator.field", "required for "+a.Type)
		}
		return nil
	case "":
		return fieldErr("aggregator.type", "required (count, average, min or max)")
	default:
		return fieldErr("aggregator.type", fmt.Sprintf("unknown aggregator %q (count, average, min or max)", a.Type))
	}
}

// Aggregate computes a over the events matching f; see Aggregator for the
// rules. A plain count of a filter the planner answers exactly (none, one
// tag, the type) comes from the counters; everything else reads each
// candidate's record.
func (s *boltStore) Aggregate(ctx context.Context, f Filter, a Aggregator) (float64, error) {
	if err := f.Validate(); err != nil {
		return 0, fmt.Errorf("store: aggregate: %w", err)
	}
	if err := a.Validate(); err != nil {
		return 0, fmt.Errorf("store: aggregate: %w", err)
	}
	var result float64
	err := s.db.View(func(tx *bolt.Tx) error {
		p, err := makePlan(tx, f, 0, 0)
		if err != nil {
			return err
		}
		if a.Type == "count" && a.Field == "" && p.exact {
			result = float64(p.size())
			return nil
		}
		first, _, ok := p.bounds()
		if !ok {
			return nil
		}
		var n, seen uint64
		sum, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
		err = p.walk(tx, first, false, func(id uint64, rec []byte) (bool, error) {
			if seen++; seen%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return false, err
				}
			}
			if rec == nil {
				return true, nil
			}
			r, err := decodeRecord(rec)
			if err != nil {
				return false, fmt.Errorf("event %d: %w", id, err)
			}
			if !p.exact && !r.match(&p.f, p.tlo, p.thi) {
				return true, nil
			}
			if a.Field == "" {
				n++
				return true, nil
			}
			v, ok := numericField(r.value, a.Field)
			if !ok {
				return true, nil
			}
			n++
			sum += v
			lo, hi = min(lo, v), max(hi, v)
			return true, nil
		})
		if err != nil || n == 0 {
			return err
		}
		switch a.Type {
		case "count":
			result = float64(n)
		case "average":
			result = sum / float64(n)
		case "min":
			result = lo
		case "max":
			result = hi
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: aggregate: %w", err)
	}
	return result, nil
}

// numericField reads value[field] when value is a JSON object and the field
// a JSON number. Numbers as strings do not count: Vamp aggregates numbers.
func numericField(value []byte, field string) (float64, bool) {
	if len(value) == 0 || value[0] != '{' {
		return 0, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(value, &obj) != nil {
		return 0, false
	}
	raw, ok := obj[field]
	if !ok || len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}
