package natsstore

import (
	"context"
	"fmt"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// StacksBucket is the key-value bucket of the stack records.
const StacksBucket = "crowsnest-stacks"

// Stacks is store.Stacks in a JetStream key-value bucket, so a stack
// created through one replica is found through every replica.
type Stacks struct{ recs *records[wire.Stack] }

var _ store.Stacks = Stacks{}

// NewStacks returns the stack records of the replicas sharing st's
// servers.
func NewStacks(st *Store) Stacks {
	return Stacks{&records[wire.Stack]{
		st: st, bucket: StacksBucket, what: "stack",
		notFound: store.ErrStackNotFound, exists: store.ErrStackExists,
		meta: func(s *wire.Stack) recordMeta { return recordMeta{&s.ID, &s.Created, &s.Updated} },
		name: func(s *wire.Stack) string { return s.Host + "\x00" + s.Name },
	}}
}

// Create stores s under a new id; see store.Stacks.
func (s Stacks) Create(ctx context.Context, st wire.Stack) (wire.Stack, error) {
	return s.recs.create(ctx, st)
}

// Get returns the stack with id; see store.Stacks.
func (s Stacks) Get(ctx context.Context, id int64) (wire.Stack, error) {
	return s.recs.get(ctx, id)
}

// List returns every stack, by id.
func (s Stacks) List(ctx context.Context) ([]wire.Stack, error) {
	return s.recs.list(ctx)
}

// Update changes stack id through fn; see store.Stacks. fn runs again when
// another replica wrote the stack meanwhile.
func (s Stacks) Update(ctx context.Context, id int64, fn func(*wire.Stack) error) (wire.Stack, error) {
	return s.recs.update(ctx, id, func(st *wire.Stack) error {
		was := *st
		if err := fn(st); err != nil {
			return err
		}
		if st.ID != was.ID || st.Name != was.Name || st.Host != was.Host {
			return fmt.Errorf("natsstore: update stack %d: id, name and host cannot change", id)
		}
		return nil
	})
}

// Delete removes the stack; see store.Stacks.
func (s Stacks) Delete(ctx context.Context, id int64) error {
	return s.recs.remove(ctx, id)
}
