package history

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// expire deletes each tier's points older than its keep at t, and the
// series whose container was last seen before the longest keep: the
// removed containers whose history has run out. s.mu is held.
func (s *Store) expire(tx *bolt.Tx, t int64) error {
	for _, tier := range s.tiers {
		b := tx.Bucket(tierBucket(tier))
		cutoff := t - int64(tier.Keep/time.Second)
		for sid := range s.byID {
			if err := deleteBefore(b, sid, cutoff); err != nil {
				return err
			}
		}
	}
	gone := t - int64(s.Retention()/time.Second)
	for k, sr := range s.series {
		if sr.Last >= gone {
			continue
		}
		if err := tx.Bucket(bucketSeries).Delete(sidKey(sr.sid)); err != nil {
			return err
		}
		delete(s.series, k)
		delete(s.byID, sr.sid)
	}
	return nil
}

// deleteBefore deletes a series' points older than cutoff. The keys are
// gathered first: deleting under a moving bbolt cursor skips keys.
func deleteBefore(b *bolt.Bucket, sid uint32, cutoff int64) error {
	var old [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(pointKey(sid, 0)); k != nil; k, _ = c.Next() {
		ksid, t := splitKey(k)
		if ksid != sid || t >= cutoff {
			break
		}
		old = append(old, append([]byte(nil), k...))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
