package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Table is a kind of record (stacks, alert rules) kept under ids, each
// with a unique name. The event store's bbolt file keeps them (records),
// and so does a NATS key-value bucket (internal/natsstore); StacksOn and
// AlertRulesOn give each kind its interface over either.
type Table[T any] interface {
	// Create stores v under a new id, with Created and Updated set to
	// now, and returns it. A taken name is the kind's "exists" error.
	Create(ctx context.Context, v T) (T, error)
	// Get returns the record with id, or the kind's "not found" error.
	Get(ctx context.Context, id int64) (T, error)
	// List returns every record, by id.
	List(ctx context.Context) ([]T, error)
	// Update reads record id, lets fn change it and writes it back, so
	// concurrent updates never lose each other's changes. An error from
	// fn aborts the update and is returned as is. Updated is set to now
	// when the record changed; fn cannot change ID or Created.
	Update(ctx context.Context, id int64, fn func(*T) error) (T, error)
	// Delete removes record id.
	Delete(ctx context.Context, id int64) error
}

// records is a kind of record kept in the event store's bbolt file (stacks,
// alert rules): a bucket of JSON records by id, and beside it a bucket
// mapping each record's unique name to its id. bbolt serialises write
// transactions, so these writes and the event writer's group commits
// simply take turns.
type records[T any] struct {
	db          *bolt.DB
	what        string // "stack", "alert rule": for errors
	recs, names []byte // the buckets
	notFound    error  // what a missing id gives
	exists      error  // what a taken name gives
	meta        func(*T) recordMeta
	name        func(*T) []byte // the name index's key of a record
}

// recordMeta points at the fields every record has.
type recordMeta struct {
	ID               *int64
	Created, Updated *time.Time
}

// openRecords creates r's buckets in st's file (see fileOf) when missing.
func openRecords[T any](st Store, r records[T]) (*records[T], error) {
	db, err := fileOf(st)
	if err != nil {
		return nil, fmt.Errorf("store: %ss: %w", r.what, err)
	}
	r.db = db
	err = r.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{r.recs, r.names} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: %ss: %w", r.what, err)
	}
	return &r, nil
}

func recordKey(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

// Create stores v under a new id, with Created and Updated set to now.
func (r *records[T]) Create(ctx context.Context, v T) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("store: create %s: %w", r.what, err)
	}
	m := r.meta(&v)
	err := r.db.Update(func(tx *bolt.Tx) error {
		names, recs := tx.Bucket(r.names), tx.Bucket(r.recs)
		if names.Get(r.name(&v)) != nil {
			return r.exists
		}
		seq, err := recs.NextSequence()
		if err != nil {
			return fmt.Errorf("next id: %w", err)
		}
		*m.ID = int64(seq)
		now := time.Now().UTC()
		*m.Created, *m.Updated = now, now
		if err := r.put(recs, &v); err != nil {
			return err
		}
		return names.Put(r.name(&v), recordKey(*m.ID))
	})
	if err != nil {
		return zero, fmt.Errorf("store: create %s %q: %w", r.what, r.name(&v), noSpace(err))
	}
	return v, nil
}

// Get returns the record with id.
func (r *records[T]) Get(ctx context.Context, id int64) (T, error) {
	var v T
	if err := ctx.Err(); err != nil {
		return v, fmt.Errorf("store: get %s: %w", r.what, err)
	}
	err := r.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = r.read(tx.Bucket(r.recs), id)
		return err
	})
	if err != nil {
		return v, fmt.Errorf("store: get %s %d: %w", r.what, id, err)
	}
	return v, nil
}

// List returns every record, by id.
func (r *records[T]) List(ctx context.Context) ([]T, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: list %ss: %w", r.what, err)
	}
	var out []T
	err := r.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(r.recs).ForEach(func(k, data []byte) error {
			var v T
			if err := json.Unmarshal(data, &v); err != nil {
				return fmt.Errorf("%s %d: %w", r.what, binary.BigEndian.Uint64(k), err)
			}
			out = append(out, v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list %ss: %w", r.what, err)
	}
	sort.Slice(out, func(i, j int) bool { return *r.meta(&out[i]).ID < *r.meta(&out[j]).ID })
	return out, nil
}

// Update reads record id, lets fn change it and writes it back in one
// transaction, moving its name in the index when fn renamed it. An error
// from fn aborts the update and is returned as is. A record fn left as it
// was is not written again; otherwise Updated is set to now. fn cannot
// change ID or Created.
func (r *records[T]) Update(ctx context.Context, id int64, fn func(*T) error) (T, error) {
	var v T
	if err := ctx.Err(); err != nil {
		return v, fmt.Errorf("store: update %s: %w", r.what, err)
	}
	var fnErr error
	err := r.db.Update(func(tx *bolt.Tx) error {
		recs, names := tx.Bucket(r.recs), tx.Bucket(r.names)
		old, err := r.read(recs, id)
		if err != nil {
			return err
		}
		before, err := json.Marshal(old)
		if err != nil {
			return fmt.Errorf("encoding %s %d: %w", r.what, id, err)
		}
		v = old
		if fnErr = fn(&v); fnErr != nil {
			return fnErr
		}
		m, om := r.meta(&v), r.meta(&old)
		*m.ID, *m.Created = *om.ID, *om.Created
		after, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding %s %d: %w", r.what, id, err)
		}
		if string(before) == string(after) {
			return nil // nothing changed: spare the disk a commit's worth of writes
		}
		if err := r.rename(names, r.name(&old), r.name(&v), id); err != nil {
			return err
		}
		*m.Updated = time.Now().UTC()
		return r.put(recs, &v)
	})
	if fnErr != nil {
		return v, fnErr
	}
	if err != nil {
		return v, fmt.Errorf("store: update %s %d: %w", r.what, id, noSpace(err))
	}
	return v, nil
}

// rename moves record id from name from to name to in the index.
func (r *records[T]) rename(names *bolt.Bucket, from, to []byte, id int64) error {
	if string(from) == string(to) {
		return nil
	}
	if names.Get(to) != nil {
		return r.exists
	}
	if err := names.Delete(from); err != nil {
		return fmt.Errorf("name index: %w", err)
	}
	if err := names.Put(to, recordKey(id)); err != nil {
		return fmt.Errorf("name index: %w", err)
	}
	return nil
}

// Delete deletes record id and its name.
func (r *records[T]) Delete(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: delete %s: %w", r.what, err)
	}
	err := r.db.Update(func(tx *bolt.Tx) error {
		recs := tx.Bucket(r.recs)
		v, err := r.read(recs, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(r.names).Delete(r.name(&v)); err != nil {
			return fmt.Errorf("name index: %w", err)
		}
		return recs.Delete(recordKey(id))
	})
	if err != nil {
		return fmt.Errorf("store: delete %s %d: %w", r.what, id, noSpace(err))
	}
	return nil
}

func (r *records[T]) read(b *bolt.Bucket, id int64) (T, error) {
	var v T
	data := b.Get(recordKey(id))
	if data == nil {
		return v, r.notFound
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("decoding %s %d: %w", r.what, id, err)
	}
	return v, nil
}

func (r *records[T]) put(b *bolt.Bucket, v *T) error {
	id := *r.meta(v).ID
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s %d: %w", r.what, id, err)
	}
	if err := b.Put(recordKey(id), data); err != nil {
		return fmt.Errorf("writing %s %d: %w", r.what, id, err)
	}
	return nil
}

// Watcher is what records shared between processes (the replicas on one
// NATS store) have besides their interface: Watch calls changed after
// every change any of them makes, and whenever watching (re)starts, until
// ctx ends. Records in a bbolt file change only through their own process
// and have none.
type Watcher interface {
	Watch(ctx context.Context, changed func()) error
}
