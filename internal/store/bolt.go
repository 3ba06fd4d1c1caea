package store

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/boltfile"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Options tune a bbolt store. The zero value keeps everything forever.
type Options struct {
	// Retention deletes events whose timestamp is older than now minus
	// Retention. Zero keeps events of any age.
	Retention time.Duration
	// MaxEvents deletes the oldest events beyond this count. Zero means no
	// limit.
	MaxEvents int
	// RetentionEvery is how often retention runs; default one minute.
	RetentionEvery time.Duration
	// Logger receives retention and write-failure logs; default slog.Default().
	Logger *slog.Logger
}

// DefaultRetentionEvery is the retention period used when
// Options.RetentionEvery is zero.
const DefaultRetentionEvery = time.Minute

// boltStore is the bbolt Store. Writes go through one writer goroutine (see
// writer.go); reads use bbolt read transactions and never wait for writes.
type boltStore struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger
	hub  *hub.Hub[*wire.Event]

	lastID atomic.Uint64 // newest committed id, set before publishing
	dir    string        // the file's directory, whose free space Health reads
	full   atomic.Bool   // the last commit failed for want of space

	// Writer state, owned by the writer goroutine once Open returns.
	nextID uint64
	maxTs  int64

	mu     sync.Mutex // guards queue and closed
	queue  []*appendReq
	closed bool
	wake   chan struct{}

	quit      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	// beforeClose, when set, runs once nothing writes any more, just
	// before the file is closed (a View marks itself closed cleanly).
	beforeClose func() error
}

// Open opens (creating it and its directory if needed) the bbolt event store
// at path. Commits are fsynced (bbolt's default); nothing here trades
// durability for speed, group commit does that job instead.
func Open(path string, opts Options) (Store, error) {
	s, err := open(path, opts, nil)
	if err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

// open opens the file and starts retention; the caller decides who writes.
// With view, the file is a View's: commits are not fsynced, and view marks
// the file open before anything else writes to it.
func open(path string, opts Options, view *viewMark) (*boltStore, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RetentionEvery <= 0 {
		opts.RetentionEvery = DefaultRetentionEvery
	}
	if opts.Retention < 0 || opts.MaxEvents < 0 {
		return nil, fmt.Errorf("store: open: negative retention or max events")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	// The timeout turns "another process holds the file" into an error
	// instead of a silent hang; a damaged file is refused unwritten.
	db, err := boltfile.Open(path, bolt.Options{Timeout: 2 * time.Second, NoSync: view != nil})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &boltStore{
		db:    db,
		dir:   filepath.Dir(path),
		opts:  opts,
		log:   opts.Logger.With("component", "store"),
		hub:   hub.New[*wire.Event](),
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		maxTs: math.MinInt64,
	}
	if err := s.init(); err != nil {
		_ = db.Close() // the init error is the one worth reporting
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if view != nil {
		if err := view.open(db); err != nil {
			_ = db.Close() // the mark's error is the one worth reporting
			return nil, err
		}
		s.beforeClose = func() error { return view.close(db) }
	}
	if opts.Retention > 0 || opts.MaxEvents > 0 {
		s.wg.Add(1)
		go s.retentionLoop()
	}
	return s, nil
}

func (s *boltStore) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bkEvents, bkTime, bkTag, bkTagMeta, bkType, bkTypeMeta, bkMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bkMeta)
		switch v := getUint(meta, keyVersion); v {
		case 0:
			if err := putUint(meta, keyVersion, schemaVersion); err != nil {
				return err
			}
			if err := putUint(meta, keyMaxTs, 1<<63); err != nil { // math.MinInt64 as stored bits
				return err
			}
		case schemaVersion:
		default:
			return fmt.Errorf("schema version %d, this build reads %d", v, schemaVersion)
		}
		last := getUint(meta, keyLastID)
		s.lastID.Store(last)
		s.nextID = last + 1
		s.maxTs = int64(getUint(meta, keyMaxTs))
		return nil
	})
}

// LastID is the id of the newest committed event.
func (s *boltStore) LastID() uint64 { return s.lastID.Load() }

// Subscribe registers with the hub the writer publishes to.
func (s *boltStore) Subscribe(size int) *hub.Subscription[*wire.Event] {
	return s.hub.Subscribe(size)
}

// Close lets queued appends finish (they were accepted, so their callers get
// an answer), stops retention, ends subscriptions and closes the file.
func (s *boltStore) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
		s.wg.Wait()
		s.hub.Close()
		var errs []error
		if s.beforeClose != nil {
			errs = append(errs, s.beforeClose())
		}
		errs = append(errs, s.db.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return s.closeErr
}
