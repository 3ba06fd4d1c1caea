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

// Stacks keeps compose stack records. It lives beside the event log in the
// same file, but behind its own small interface so that the stacks package
// never sees bbolt and another backend can replace it.
type Stacks interface {
	// Create stores s under a new id (Created and Updated set to now) and
	// returns it. A stack of the same name on the same host is
	// ErrStackExists.
	Create(ctx context.Context, s wire.Stack) (wire.Stack, error)
	// Get returns the stack with id, or ErrStackNotFound.
	Get(ctx context.Context, id int64) (wire.Stack, error)
	// List returns every stack, by id.
	List(ctx context.Context) ([]wire.Stack, error)
	// Update reads the stack, lets fn change it and writes it back in one
	// transaction, so concurrent updates never lose each other's changes.
	// fn must not change ID, Name or Host. An error from fn aborts the
	// update and is returned as is. Updated is set to now when the record
	// changed.
	Update(ctx context.Context, id int64, fn func(*wire.Stack) error) (wire.Stack, error)
	// Delete removes the stack; a missing one is ErrStackNotFound.
	Delete(ctx context.Context, id int64) error
}

// Errors of Stacks.
var (
	ErrStackNotFound = errors.New("store: stack not found")
	ErrStackExists   = errors.New("store: a stack of that name already exists on that host")
)

// Buckets of the stack records:
//
//	stacks      id (8 bytes big-endian) → JSON of wire.Stack
//	stacknames  host \x00 name → id
var (
	bkStacks     = []byte("stacks")
	bkStackNames = []byte("stacknames")
)

// boltStacks is Stacks on the event store's bbolt file. bbolt serialises
// write transactions, so these writes and the event writer's group commits
// simply take turns.
type boltStacks struct{ db *bolt.DB }

// NewStacks returns the stack records kept in st's file. st must come from
// Open or hold a View (see fileOf).
func NewStacks(st Store) (Stacks, error) {
	db, err := fileOf(st)
	if err != nil {
		return nil, fmt.Errorf("store: stacks: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bkStacks, bkStackNames} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: stacks: %w", err)
	}
	return &boltStacks{db: db}, nil
}

func stackKey(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

func stackNameKey(host, name string) []byte {
	return append(append([]byte(host), 0), name...)
}

func (b *boltStacks) Create(ctx context.Context, s wire.Stack) (wire.Stack, error) {
	if err := ctx.Err(); err != nil {
		return wire.Stack{}, fmt.Errorf("store: create stack: %w", err)
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		names := tx.Bucket(bkStackNames)
		nk := stackNameKey(s.Host, s.Name)
		if names.Get(nk) != nil {
			return ErrStackExists
		}
		recs := tx.Bucket(bkStacks)
		seq, err := recs.NextSequence()
		if err != nil {
			return fmt.Errorf("next id: %w", err)
		}
		s.ID = int64(seq)
		now := time.Now().UTC()
		s.Created, s.Updated = now, now
		if err := putStack(recs, s); err != nil {
			return err
		}
		return names.Put(nk, stackKey(s.ID))
	})
	if err != nil {
		return wire.Stack{}, fmt.Errorf("store: create stack %q: %w", s.Name, err)
	}
	return s, nil
}

func (b *boltStacks) Get(ctx context.Context, id int64) (wire.Stack, error) {
	if err := ctx.Err(); err != nil {
		return wire.Stack{}, fmt.Errorf("store: get stack: %w", err)
	}
	var s wire.Stack
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		s, err = getStack(tx.Bucket(bkStacks), id)
		return err
	})
	if err != nil {
		return wire.Stack{}, fmt.Errorf("store: get stack %d: %w", id, err)
	}
	return s, nil
}

func (b *boltStacks) List(ctx context.Context) ([]wire.Stack, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: list stacks: %w", err)
	}
	var out []wire.Stack
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bkStacks).ForEach(func(k, v []byte) error {
			var s wire.Stack
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("stack %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list stacks: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (b *boltStacks) Update(ctx context.Context, id int64, fn func(*wire.Stack) error) (wire.Stack, error) {
	if err := ctx.Err(); err != nil {
		return wire.Stack{}, fmt.Errorf("store: update stack: %w", err)
	}
	var s wire.Stack
	var fnErr error
	err := b.db.Update(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bkStacks)
		old, err := getStack(recs, id)
		if err != nil {
			return err
		}
		before, err := json.Marshal(old)
		if err != nil {
			return fmt.Errorf("encoding stack %d: %w", id, err)
		}
		s = old
		if fnErr = fn(&s); fnErr != nil {
			return fnErr
		}
		if s.ID != old.ID || s.Name != old.Name || s.Host != old.Host {
			return fmt.Errorf("stack %d: id, name and host cannot change", id)
		}
		after, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encoding stack %d: %w", id, err)
		}
		if string(before) == string(after) {
			return nil // nothing changed: spare the disk a commit's worth of writes
		}
		s.Updated = time.Now().UTC()
		return putStack(recs, s)
	})
	if fnErr != nil {
		return wire.Stack{}, fnErr
	}
	if err != nil {
		return wire.Stack{}, fmt.Errorf("store: update stack %d: %w", id, err)
	}
	return s, nil
}

func (b *boltStacks) Delete(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: delete stack: %w", err)
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bkStacks)
		s, err := getStack(recs, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bkStackNames).Delete(stackNameKey(s.Host, s.Name)); err != nil {
			return fmt.Errorf("name index: %w", err)
		}
		return recs.Delete(stackKey(id))
	})
	if err != nil {
		return fmt.Errorf("store: delete stack %d: %w", id, err)
	}
	return nil
}

func getStack(b *bolt.Bucket, id int64) (wire.Stack, error) {
	v := b.Get(stackKey(id))
	if v == nil {
		return wire.Stack{}, ErrStackNotFound
	}
	var s wire.Stack
	if err := json.Unmarshal(v, &s); err != nil {
		return wire.Stack{}, fmt.Errorf("decoding stack %d: %w", id, err)
	}
	return s, nil
}

func putStack(b *bolt.Bucket, s wire.Stack) error {
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encoding stack %d: %w", s.ID, err)
	}
	if err := b.Put(stackKey(s.ID), v); err != nil {
		return fmt.Errorf("writing stack %d: %w", s.ID, err)
	}
	return nil
}
