package store

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// ctxEvery is how many candidates a long walk reads between checks of ctx.
const ctxEvery = 1024

// Query returns page q.Page of the matching events, newest first. See
// plan.go for what it costs.
func (s *boltStore) Query(ctx context.Context, q Query) (Page, error) {
	if err := q.Validate(); err != nil {
		return Page{}, fmt.Errorf("store: query: %w", err)
	}
	page, per := q.Page, q.PerPage
	if page < 1 {
		page = 1
	}
	if per < 1 {
		per = DefaultPerPage
	}
	per = min(per, MaxPerPage)
	out := Page{Events: []wire.Event{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		p, err := makePlan(tx, q.Filter, 0, 0)
		if err != nil {
			return err
		}
		_, last, ok := p.bounds()
		if !ok {
			return nil
		}
		offset := uint64(page-1) * uint64(per)
		if p.exact {
			out.Total = int(p.size())
			if offset >= p.size() {
				return nil
			}
			return p.walk(tx, last-offset, true, func(id uint64, rec []byte) (bool, error) {
				if rec == nil {
					return true, nil
				}
				r, err := decodeRecord(rec)
				if err != nil {
					return false, fmt.Errorf("event %d: %w", id, err)
				}
				out.Events = append(out.Events, r.event(id))
				return len(out.Events) < per, nil
			})
		}
		// Compound filter: count every match, keep the requested window.
		var n, seen uint64
		err = p.walk(tx, last, true, func(id uint64, rec []byte) (bool, error) {
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
			if !r.match(&p.f, p.tlo, p.thi) {
				return true, nil
			}
			if n >= offset && n < offset+uint64(per) {
				out.Events = append(out.Events, r.event(id))
			}
			n++
			return true, nil
		})
		out.Total = int(n)
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("store: query: %w", err)
	}
	return out, nil
}

// scanChunk is how many events Scan reads per read transaction. Scan calls
// fn outside any transaction, so a slow consumer (a websocket) never pins
// old pages of the file.
const scanChunk = 256

// scanExamine bounds the candidates one chunk examines, so a sparse compound
// filter does not hold one read transaction over a whole index.
const scanExamine = 16 * scanChunk

// Scan calls fn for the matching events with after < id <= upTo, oldest
// first.
func (s *boltStore) Scan(ctx context.Context, after, upTo uint64, f Filter, fn func(wire.Event) error) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("store: scan: %w", err)
	}
	if upTo == 0 {
		upTo = s.LastID()
	}
	if after >= upTo {
		return nil
	}
	// A time-index plan is collected once and kept: re-collecting the range
	// for every chunk would cost the range each time.
	var timePlan *plan
	var timePos uint64
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: scan: %w", err)
		}
		var batch []wire.Event
		done := false
		err := s.db.View(func(tx *bolt.Tx) error {
			p := timePlan
			start := timePos
			if p == nil {
				var err error
				if p, err = makePlan(tx, f, after, upTo); err != nil {
					return err
				}
				first, _, ok := p.bounds()
				if !ok {
					done = true
					return nil
				}
				start = first
				if p.kind == srcTime {
					timePlan = p
				}
			}
			examined := 0
			done = true
			err := p.walk(tx, start, false, func(id uint64, rec []byte) (bool, error) {
				if examined == scanExamine || len(batch) == scanChunk {
					done = false
					return false, nil
				}
				examined++
				after = id
				timePos++
				if rec == nil {
					return true, nil
				}
				r, err := decodeRecord(rec)
				if err != nil {
					return false, fmt.Errorf("event %d: %w", id, err)
				}
				if p.exact || r.match(&p.f, p.tlo, p.thi) {
					batch = append(batch, r.event(id))
				}
				return true, nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("store: scan: %w", err)
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				if errors.Is(err, ErrStop) {
					return nil
				}
				return err
			}
		}
		if done {
			return nil
		}
	}
}
