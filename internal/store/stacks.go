package store

import (
	"context"
	"errors"
	"fmt"

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

// NewStacks returns the stack records kept in st's file. st must come from
// Open or hold a View (see fileOf).
func NewStacks(st Store) (Stacks, error) {
	recs, err := openRecords(st, records[wire.Stack]{
		what: "stack", recs: bkStacks, names: bkStackNames,
		notFound: ErrStackNotFound, exists: ErrStackExists,
		meta: func(s *wire.Stack) recordMeta { return recordMeta{&s.ID, &s.Created, &s.Updated} },
		name: func(s *wire.Stack) []byte { return append(append([]byte(s.Host), 0), s.Name...) },
	})
	if err != nil {
		return nil, err
	}
	return StacksOn(recs), nil
}

// StacksOn returns the Stacks kept in t.
func StacksOn(t Table[wire.Stack]) Stacks { return stackTable{t} }

// stackTable is Stacks on a Table: the table's own operations, and an
// Update that keeps a stack's identity.
type stackTable struct{ Table[wire.Stack] }

// Update changes stack id through fn; see Stacks.
func (t stackTable) Update(ctx context.Context, id int64, fn func(*wire.Stack) error) (wire.Stack, error) {
	return t.Table.Update(ctx, id, func(s *wire.Stack) error {
		was := *s
		if err := fn(s); err != nil {
			return err
		}
		if s.ID != was.ID || s.Name != was.Name || s.Host != was.Host {
			return fmt.Errorf("store: update stack %d: id, name and host cannot change", id)
		}
		return nil
	})
}
