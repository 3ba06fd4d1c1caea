// Package lease makes sure a piece of work is done by one crowsnest replica
// at a time: a deploy runs once, an alert is sent once. A lease is a key in
// a JetStream key-value bucket whose entries expire TTL after their last
// write; its value names the holder. The holder renews it while it works;
// if the holder dies, the key expires and another replica can take it.
package lease

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the name of the key-value bucket of leases.
const Bucket = "crowsnest-leases"

// DefaultTTL is how long a lease outlives its holder's last renewal: how
// long a replica's death holds up the work it held.
const DefaultTTL = 15 * time.Second

// ErrHeld means another replica holds the lease.
var ErrHeld = errors.New("lease held by another replica")

// Options configure Leases.
type Options struct {
	// Bucket returns the key-value bucket, created with entries that
	// expire after ttl.
	Bucket func(ctx context.Context, name string, ttl time.Duration) (jetstream.KeyValue, error)
	// Owner names this replica; it must differ between replicas.
	Owner string
	// TTL; default DefaultTTL.
	TTL time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Leases takes leases for one replica. A nil *Leases takes every lease at
// once: a single crowsnest has nobody to share the work with.
type Leases struct {
	opts Options
	log  *slog.Logger
}

// New returns the leases of the replica named opts.Owner.
func New(opts Options) *Leases {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Leases{opts: opts, log: opts.Logger.With("component", "lease")}
}

// key turns a lease name into a key: names hold any text (host and stack
// names), keys only letters, digits and -_=./.
func key(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

// take writes the lease for this replica if it is free or already ours,
// and returns the entry's revision, or ErrHeld naming the holder.
func (l *Leases) take(ctx context.Context, name string) (jetstream.KeyValue, uint64, error) {
	kv, err := l.opts.Bucket(ctx, Bucket, l.opts.TTL)
	if err != nil {
		return nil, 0, fmt.Errorf("lease %s: %w", name, err)
	}
	k := key(name)
	rev, err := kv.Create(ctx, k, []byte(l.opts.Owner))
	if err == nil {
		return kv, rev, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, 0, fmt.Errorf("lease %s: %w", name, err)
	}
	e, err := kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return l.take(ctx, name) // expired between the two calls
	}
	if err != nil {
		return nil, 0, fmt.Errorf("lease %s: %w", name, err)
	}
	if string(e.Value()) != l.opts.Owner {
		return nil, 0, fmt.Errorf("lease %s: %w (%s)", name, ErrHeld, e.Value())
	}
	rev, err = kv.Update(ctx, k, []byte(l.opts.Owner), e.Revision())
	if err != nil {
		return nil, 0, fmt.Errorf("lease %s: renewing: %w", name, err)
	}
	return kv, rev, nil
}

// Claim takes or renews the lease on name and leaves it to expire TTL
// later: work that recurs (an alert rule firing on a container) stays with
// the replica that first claimed it while it keeps claiming. It reports
// whether this replica holds the lease; errors other than ErrHeld say NATS
// could not be asked.
func (l *Leases) Claim(ctx context.Context, name string) (bool, error) {
	if l == nil {
		return true, nil
	}
	_, _, err := l.take(ctx, name)
	if errors.Is(err, ErrHeld) {
		return false, nil
	}
	return err == nil, err
}

// Acquire takes the lease on name and renews it until Release: for work
// with a beginning and an end (a stack action). It is ErrHeld while
// another replica holds it.
func (l *Leases) Acquire(ctx context.Context, name string) (*Lease, error) {
	lost := make(chan struct{})
	if l == nil {
		return &Lease{lost: lost, stop: make(chan struct{})}, nil
	}
	kv, rev, err := l.take(ctx, name)
	if err != nil {
		return nil, err
	}
	ls := &Lease{kv: kv, key: key(name), name: name, log: l.log, lost: lost, stop: make(chan struct{})}
	ls.wg.Go(func() { ls.renew(l, rev) })
	return ls, nil
}

// Lease is an acquired lease.
type Lease struct {
	kv        jetstream.KeyValue // nil for a lease of a nil Leases
	key, name string
	log       *slog.Logger
	lost      chan struct{} // closed when a renewal failed
	stop      chan struct{}
	once      sync.Once
	wg        sync.WaitGroup
	rev       uint64 // the last revision written; the renewer's until it ends
}

// Lost is closed if the lease could not be renewed: another replica may
// take it from then on, so the work it guards should stop.
func (ls *Lease) Lost() <-chan struct{} { return ls.lost }

// renew rewrites the lease every third of the TTL until Release, and
// closes lost when a write fails (NATS unreachable, or the key expired and
// was taken).
func (ls *Lease) renew(l *Leases, rev uint64) {
	t := time.NewTicker(l.opts.TTL / 3)
	defer t.Stop()
	ls.rev = rev
	for {
		select {
		case <-ls.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.TTL/3)
		next, err := ls.kv.Update(ctx, ls.key, []byte(l.opts.Owner), ls.rev)
		cancel()
		if err != nil {
			l.log.Warn("lease lost", "lease", ls.name, "err", err)
			close(ls.lost)
			return
		}
		ls.rev = next
	}
}

// Release stops renewing and frees the lease for others at once, if it is
// still this replica's.
func (ls *Lease) Release() {
	ls.once.Do(func() {
		close(ls.stop)
		ls.wg.Wait()
		if ls.kv == nil {
			return
		}
		select {
		case <-ls.lost:
			return // not ours any more: leave whoever took it alone
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Only the revision we wrote: a key that expired and was taken
		// meanwhile stays with its new holder.
		if err := ls.kv.Delete(ctx, ls.key, jetstream.LastRevision(ls.rev)); err != nil {
			ls.log.Warn("releasing a lease failed; it expires by itself", "lease", ls.name, "err", err)
		}
	})
}
