package natsstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KeyValue returns the key-value bucket named bucket, created (file
// storage, the store's replicas, entries expiring ttl after their last
// write, 0 for never) the first time it is asked for. While NATS does not
// answer it is store.ErrUnavailable at once: a request waiting on a lease
// or a session answers rather than hang.
func (s *Store) KeyValue(ctx context.Context, bucket string, ttl time.Duration) (jetstream.KeyValue, error) {
	if err := s.Health(); err != nil {
		return nil, fmt.Errorf("natsstore: bucket %s: %w", bucket, err)
	}
	s.mu.Lock()
	kv, ok := s.kvs[bucket]
	js := s.js
	s.mu.Unlock()
	if ok {
		return kv, nil
	}
	cctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(cctx, jetstream.KeyValueConfig{
		Bucket:   bucket,
		History:  1,
		TTL:      ttl,
		Storage:  jetstream.FileStorage,
		Replicas: s.opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsstore: bucket %s: %w", bucket, err)
	}
	s.mu.Lock()
	s.kvs[bucket] = kv
	s.mu.Unlock()
	return kv, nil
}
