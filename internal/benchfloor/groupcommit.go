// Package benchfloor holds the floors the benchmarks compare crowsnest
// with: the least work any implementation of the same job must do, run
// side by side with crowsnest in the same benchmark so that both see the
// same machine.
package benchfloor

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxBatch bounds one commit, as a real store must to keep a commit's
// latency bounded; far above what 64 writers ever have pending.
const maxBatch = 4096

var bucket = []byte("events")

// GroupCommit is a durable append-only log in one bbolt bucket: every
// record put while a commit is running goes into the next commit, one
// db.Update (one fsync) for all of them. It is what a durable event store
// with shared commits must do at the least: no indexes, no decoding.
type GroupCommit struct {
	db   *bolt.DB
	reqs chan putReq
	done chan struct{}
}

type putReq struct {
	rec []byte
	err chan error
}

// OpenGroupCommit creates the log in a new bbolt file at path, with bbolt's
// defaults (fsync on every commit) and its committer running.
func OpenGroupCommit(path string) (*GroupCommit, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	g := &GroupCommit{db: db, reqs: make(chan putReq, maxBatch), done: make(chan struct{})}
	go g.commit()
	return g, nil
}

// openDB creates a bbolt file at path, with bbolt's defaults (fsync on every
// commit), holding the floor's one bucket.
func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, fmt.Errorf("opening the floor's database: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the floor's bucket: %w", err)
	}
	return db, nil
}

// Put stores rec under the next sequence number and returns once it is
// committed and synced. It must not be called after Close.
func (g *GroupCommit) Put(rec []byte) error {
	r := putReq{rec: rec, err: make(chan error, 1)}
	g.reqs <- r
	return <-r.err
}

// Close stops the committer once the pending puts are committed, and
// closes the database.
func (g *GroupCommit) Close() error {
	close(g.reqs)
	<-g.done
	return g.db.Close()
}

// commit takes the first pending put, every other one pending by then, and
// commits them together.
func (g *GroupCommit) commit() {
	defer close(g.done)
	for first := range g.reqs {
		batch := append(make([]putReq, 0, 64), first)
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-g.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		recs := make([][]byte, len(batch))
		for i, r := range batch {
			recs[i] = r.rec
		}
		err := appendAll(g.db, recs)
		if err != nil {
			err = fmt.Errorf("floor commit of %d records: %w", len(batch), err)
		}
		for _, r := range batch {
			r.err <- err
		}
	}
}

// Log is the floor of a single writer: whoever calls Append already holds a
// batch, and commits it in one db.Update (one fsync).
type Log struct{ db *bolt.DB }

// OpenLog creates the log in a new bbolt file at path, with bbolt's defaults.
func OpenLog(path string) (*Log, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	return &Log{db: db}, nil
}

// Append stores recs, each under the next sequence number, in one commit.
func (l *Log) Append(recs [][]byte) error {
	if err := appendAll(l.db, recs); err != nil {
		return fmt.Errorf("floor commit of %d records: %w", len(recs), err)
	}
	return nil
}

// Close closes the database.
func (l *Log) Close() error { return l.db.Close() }

// appendAll puts recs under the next sequence numbers in one db.Update.
func appendAll(db *bolt.DB, recs [][]byte) error {
	return db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		for _, rec := range recs {
			seq, err := bk.NextSequence()
			if err != nil {
				return err
			}
			if err := bk.Put(binary.BigEndian.AppendUint64(nil, seq), rec); err != nil {
				return err
			}
		}
		return nil
	})
}
