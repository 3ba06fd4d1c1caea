// Package benchfloor holds the floors the benchmarks compare crowsnest
// with: the least work any implementation of the same job must do, run
// side by side with crowsnest in the same benchmark so that both see the
// same machine.
package benchfloor

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// maxBatch bounds one commit, as a real store must to keep a commit's
// latency bounded; far above what 64 writers ever have pending.
const maxBatch = 4096

var (
	bkRecords = []byte("events")
	bkIndex   = []byte("index")
)

// GroupCommit is a durable, indexed append-only log in bbolt: every record
// put while a commit is running goes into the next commit, one db.Update
// (one fsync) for all of them. Each record goes under the next sequence
// number in one bucket, and each of its index entries is one empty value
// under prefix|sequence in a second bucket: the same durable data as an
// event store with time, tag and type indexes, in the simplest layout, with
// no counters, no spans and no decoding.
type GroupCommit struct {
	db   *bolt.DB
	reqs chan putReq
	done chan struct{}
}

// Entry is one record and the prefixes of its index entries.
type Entry struct {
	Rec   []byte
	Index [][]byte
}

type putReq struct {
	Entry
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
// commit), holding the floor's two buckets.
func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, fmt.Errorf("opening the floor's database: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bkRecords, bkIndex} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the floor's buckets: %w", err)
	}
	return db, nil
}

// Put stores rec under the next sequence number and, for each prefix of
// index, an entry prefix|sequence; it returns once they are committed and
// synced. It must not be called after Close.
func (g *GroupCommit) Put(rec []byte, index ...[]byte) error {
	r := putReq{Entry: Entry{Rec: rec, Index: index}, err: make(chan error, 1)}
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
		entries := make([]Entry, len(batch))
		for i, r := range batch {
			entries[i] = r.Entry
		}
		err := g.db.Update(func(tx *bolt.Tx) error { return put(tx, entries) })
		if err != nil {
			err = fmt.Errorf("floor commit of %d records: %w", len(batch), err)
		}
		for _, r := range batch {
			r.err <- err
		}
	}
}

// put writes the records of batch and their index entries.
func put(tx *bolt.Tx, batch []Entry) error {
	recs, ix := tx.Bucket(bkRecords), tx.Bucket(bkIndex)
	// Packed pages, as the store packs its own: both buckets grow at the
	// end of their key runs, where bbolt's default half-full split wastes.
	recs.FillPercent, ix.FillPercent = 0.9, 0.9
	for _, r := range batch {
		seq, err := recs.NextSequence()
		if err != nil {
			return err
		}
		if err := recs.Put(binary.BigEndian.AppendUint64(nil, seq), r.Rec); err != nil {
			return err
		}
		for _, prefix := range r.Index {
			k := binary.BigEndian.AppendUint64(append(make([]byte, 0, len(prefix)+8), prefix...), seq)
			if err := ix.Put(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// IndexPrefixes are the index entries an event store keeps for e (a
// normalised event): one for its time, one per tag, one for its type. The
// prefixes keep the three kinds apart, and the NUL ends a name so that no
// name is a prefix of another's entries.
func IndexPrefixes(e wire.Event) [][]byte {
	ix := make([][]byte, 0, 2+len(e.Tags))
	ix = append(ix, binary.BigEndian.AppendUint64([]byte{'t'}, uint64(e.Timestamp.UnixNano())^(1<<63)))
	for _, t := range e.Tags {
		ix = append(ix, nameKey('g', t))
	}
	return append(ix, nameKey('y', e.Type))
}

func nameKey(kind byte, name string) []byte {
	k := append(make([]byte, 0, len(name)+2), kind)
	return append(append(k, name...), 0)
}

// Log is the floor of a single writer that already holds its batch: one
// db.Update (one fsync) per Append, the same layout as GroupCommit.
type Log struct{ db *bolt.DB }

// OpenLog creates the log in a new bbolt file at path, with bbolt's defaults.
func OpenLog(path string) (*Log, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	return &Log{db: db}, nil
}

// Append stores entries in one commit.
func (l *Log) Append(entries []Entry) error {
	if err := l.db.Update(func(tx *bolt.Tx) error { return put(tx, entries) }); err != nil {
		return fmt.Errorf("floor commit of %d records: %w", len(entries), err)
	}
	return nil
}

// Close closes the database.
func (l *Log) Close() error { return l.db.Close() }
