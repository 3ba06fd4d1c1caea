package natsstore

import (
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// StacksBucket is the key-value bucket of the stack records.
const StacksBucket = "crowsnest-stacks"

// NewStacks returns the stack records of the replicas sharing st's
// servers, in a JetStream key-value bucket, so a stack created through one
// replica is found through every replica.
func NewStacks(st *Store) store.Stacks {
	return store.StacksOn(&records[wire.Stack]{
		st: st, bucket: StacksBucket, what: "stack",
		notFound: store.ErrStackNotFound, exists: store.ErrStackExists,
		meta: func(s *wire.Stack) recordMeta { return recordMeta{&s.ID, &s.Created, &s.Updated} },
		name: func(s *wire.Stack) string { return s.Host + "\x00" + s.Name },
	})
}
