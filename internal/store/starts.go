package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bkStarts holds where the record of each engine began: host name → the
// engine's clock (timeNano, 8 bytes big-endian) when crowsnest first
// subscribed to it.
var bkStarts = []byte("starts")

// RecordStart returns when the record of host began in st's file (see
// fileOf), storing now as that when none is stored yet. Until the first
// event of a host is stored, it is the only proof of where its record
// starts: a crowsnest that restarts with nothing stored (the disk was
// full) resumes from it, or records a gap, instead of starting afresh.
func RecordStart(st Store, host string, now int64) (int64, error) {
	db, err := fileOf(st)
	if err != nil {
		return 0, fmt.Errorf("store: record start: %w", err)
	}
	start := now
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bkStarts)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(host)); len(v) == 8 {
			start = int64(binary.BigEndian.Uint64(v))
			return nil
		}
		return b.Put([]byte(host), binary.BigEndian.AppendUint64(nil, uint64(now)))
	})
	if err != nil {
		return 0, fmt.Errorf("store: record start of %s: %w", host, noSpace(err))
	}
	return start, nil
}
