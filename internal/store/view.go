package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/boltfile"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// View is the bbolt store's indexes over a log kept elsewhere: a replicated
// log (a NATS JetStream stream) orders and numbers the events, and each
// replica applies them to its View, so queries, pages, scans and
// subscriptions are answered locally at the speed and with the semantics of
// the bbolt store. A View has no Append: events get in through Apply, under
// the ids the log gave them.
//
// The View holds one contiguous run of the log's ids, as the bbolt store
// does (its plans rely on it): events arriving after a hole (the log
// dropped events this View never saw) first drop every older event.
type View struct{ s *boltStore }

// OpenView opens (creating it if needed) the view file at path. Retention
// in opts applies to the view as to a store.
//
// The view's commits are not fsynced: the log is durable, and the view can
// be rebuilt from it, so waiting for the disk on every applied batch would
// only slow every POST down (it waits until its event is applied). A file
// that may have lost writes is started afresh instead (see usableView), and
// the caller reads the log again from its start.
//
// A view that fails the consistency check (see boltfile.Check) is moved
// aside to path.damaged, for whoever wants to look at it, and rebuilt
// from the log: unlike a store, it holds nothing the log does not.
func OpenView(path string, opts Options) (*View, error) {
	if err := setAsideDamaged(path, opts.Logger); err != nil {
		return nil, err
	}
	mark := &viewMark{boot: bootID()}
	ok, err := usableView(path, mark.boot)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("store: view: removing %s: %w", path, err)
		}
	}
	s, err := open(path, opts, mark)
	if err != nil {
		return nil, err
	}
	if !ok {
		s.log.Warn("the view may have lost writes (it was open when the machine stopped) or cannot be read; rebuilt it empty, to be filled from the log", "path", path)
	}
	return &View{s: s}, nil
}

// setAsideDamaged renames the view file at path to path.damaged (replacing
// an older one) when it fails the consistency check.
func setAsideDamaged(path string, log *slog.Logger) error {
	err := boltfile.Check(path, 2*time.Second)
	if !errors.Is(err, boltfile.ErrDamaged) {
		if err != nil {
			return fmt.Errorf("store: view %s: %w", path, err)
		}
		return nil
	}
	if err := os.Rename(path, path+".damaged"); err != nil {
		return fmt.Errorf("store: view: setting aside %s: %w", path, err)
	}
	if log == nil {
		log = slog.Default()
	}
	log.Warn("the view failed its check; moved it aside and rebuilding it from the log", "path", path, "movedTo", path+".damaged", "err", err)
	return nil
}

// Apply stores events under their ids in one commit per run of
// consecutive ids (not fsynced, see OpenView), then publishes them to
// subscribers. Events at or below LastID are skipped, so applying again
// what was applied is harmless. Ids must increase. Apply must not be called concurrently. Subscribers get
// pointers into events: the caller must not change them afterwards.
func (v *View) Apply(events []wire.Event) error {
	for len(events) > 0 {
		last := v.s.lastID.Load()
		if events[0].ID <= last {
			events = events[1:]
			continue
		}
		n := 1
		for n < len(events) && events[n].ID == events[n-1].ID+1 {
			n++
		}
		if n < len(events) && events[n].ID < events[n-1].ID {
			return fmt.Errorf("store: view: id %d after %d", events[n].ID, events[n-1].ID)
		}
		if last > 0 && events[0].ID != last+1 {
			if err := v.dropBelow(events[0].ID); err != nil {
				return err
			}
		}
		if err := v.commit(events[:n]); err != nil {
			return err
		}
		events = events[n:]
	}
	return nil
}

// commit writes a run of consecutive ids above LastID.
func (v *View) commit(run []wire.Event) error {
	s := v.s
	var maxTs int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		maxTs, err = appendTx(tx, run, s.maxTs)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: view: applying events %d to %d: %w", run[0].ID, run[len(run)-1].ID, err)
	}
	s.maxTs = maxTs
	s.publish(run)
	return nil
}

// dropBelow deletes every event with an id below id.
func (v *View) dropBelow(id uint64) error {
	v.s.log.Warn("the log no longer holds what follows the view's last event; dropping the older events", "lastID", v.s.lastID.Load(), "next", id)
	for {
		n, err := v.s.pruneBatch(time.Now(), retentionBatch, id)
		if err != nil {
			return fmt.Errorf("store: view: %w", err)
		}
		if n < retentionBatch {
			return nil
		}
	}
}

// Query is Store.Query on the applied events.
func (v *View) Query(ctx context.Context, q Query) (Page, error) { return v.s.Query(ctx, q) }

// Aggregate is Store.Aggregate on the applied events.
func (v *View) Aggregate(ctx context.Context, f Filter, a Aggregator) (float64, error) {
	return v.s.Aggregate(ctx, f, a)
}

// Scan is Store.Scan on the applied events.
func (v *View) Scan(ctx context.Context, after, upTo uint64, f Filter, fn func(wire.Event) error) error {
	return v.s.Scan(ctx, after, upTo, f, fn)
}

// LastID is the id of the newest applied event, 0 when there is none.
func (v *View) LastID() uint64 { return v.s.LastID() }

// Subscribe returns a subscription to the events applied from now on.
func (v *View) Subscribe(size int) *hub.Subscription[*wire.Event] { return v.s.Subscribe(size) }

// Close stops retention, ends subscriptions and closes the file.
func (v *View) Close() error { return v.s.Close() }

// ViewHolder is a Store built over a View, such as the NATS JetStream
// store: records that stay local to a replica (stacks, alert rules) are
// kept in its view's file.
type ViewHolder interface {
	LocalView() *View
}

// fileOf returns the bbolt file that keeps records beside st's events.
func fileOf(st Store) (*bolt.DB, error) {
	switch s := st.(type) {
	case *boltStore:
		return s.db, nil
	case ViewHolder:
		return s.LocalView().s.db, nil
	}
	return nil, fmt.Errorf("unsupported store %T", st)
}
