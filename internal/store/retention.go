package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// retentionBatch bounds one retention transaction. bbolt has one writer at a
// time, so a long deletion would hold up appends; many small transactions let
// the group-commit writer in between.
const retentionBatch = 1000

func (s *boltStore) retentionLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.RetentionEvery)
	defer t.Stop()
	for {
		if n, err := s.prune(time.Now()); err != nil {
			s.log.Error("event store retention failed", "deleted", n, "err", err)
		} else if n > 0 {
			s.log.Info("event store retention", "deleted", n)
		}
		select {
		case <-t.C:
		case <-s.quit:
			return
		}
	}
}

// prune deletes expired events, oldest first, in transactions of at most
// retentionBatch events until none is left to delete or the store closes.
func (s *boltStore) prune(now time.Time) (int, error) {
	total := 0
	for {
		select {
		case <-s.quit:
			return total, nil
		default:
		}
		n, err := s.pruneBatch(now, retentionBatch, 0)
		total += n
		if err != nil || n < retentionBatch {
			return total, err
		}
	}
}

// pruneBatch deletes up to limit events from the oldest id while a rule
// holds: the id is below below, the event is older than Retention (stopping
// at the first young event, even if an older one follows: ages are judged in
// id order so that only a prefix of ids is ever deleted, which keeps every
// index a contiguous run), or more than MaxEvents are stored.
func (s *boltStore) pruneBatch(now time.Time, limit int, below uint64) (int, error) {
	var cutoff int64
	byAge := s.opts.Retention > 0
	if byAge {
		cutoff = clampNano(now.Add(-s.opts.Retention))
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		evb, tb, meta := tx.Bucket(bkEvents), tx.Bucket(bkTime), tx.Bucket(bkMeta)
		count := getUint(meta, keyCount)
		type victim struct {
			id  uint64
			rec []byte
		}
		var victims []victim
		c := evb.Cursor()
		for k, v := c.First(); k != nil && len(victims) < limit; k, v = c.Next() {
			r, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("event %d: %w", keyID(k), err)
			}
			left := count - uint64(len(victims))
			tooMany := s.opts.MaxEvents > 0 && left > uint64(s.opts.MaxEvents)
			tooOld := byAge && r.ts < cutoff
			if !tooMany && !tooOld && keyID(k) >= below {
				break
			}
			// Copy: the record's memory belongs to the page being modified.
			victims = append(victims, victim{keyID(k), append([]byte(nil), v...)})
		}
		if len(victims) == 0 {
			return nil
		}
		tags, types := newIxWriter(tx, tagIndex), newIxWriter(tx, typeIndex)
		for _, vi := range victims {
			r, err := decodeRecord(vi.rec)
			if err != nil {
				return err
			}
			for _, t := range r.tags {
				if err := tags.removeOldest(string(t), vi.id); err != nil {
					return err
				}
			}
			if err := types.removeOldest(string(r.typ), vi.id); err != nil {
				return err
			}
			if err := tb.Delete(timeKey(r.ts, vi.id)); err != nil {
				return err
			}
			if err := evb.Delete(idKey(vi.id)); err != nil {
				return err
			}
		}
		if err := tags.flush(); err != nil {
			return err
		}
		if err := types.flush(); err != nil {
			return err
		}
		if count < uint64(len(victims)) {
			return errors.New("event count below the events deleted: counters damaged")
		}
		n = len(victims)
		return putUint(meta, keyCount, count-uint64(len(victims)))
	})
	if err != nil {
		return 0, fmt.Errorf("store: retention: %w", err)
	}
	return n, nil
}
