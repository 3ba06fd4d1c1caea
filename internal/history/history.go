// Package history keeps the stats history: every sampling round of
// internal/stats, downsampled into tiers (by default 10 s points for 24 h,
// 1 min for 7 days, 10 min for 30 days) in a bbolt file of its own, kept
// after a container is removed until retention deletes it, and answers
// range queries per container and per engine.
//
// Storage: one bbolt bucket per tier, a key per point (series number and
// time, 8 bytes) and a value of seven varints (see point.encode); one
// commit per round. Coarser tiers are rolled up inside the round's commit
// once their steps are complete, from the tier below, so a restart loses
// nothing: the finer tier still holds what the rollup needs. Nothing
// outside this package knows the file is bbolt.
//
// Size (BenchmarkBytesPerContainerDay, 10 s rounds of containers with
// varying figures): one container's day takes about 430 KB, of which
// 366 KB of 10 s points (about 42 bytes a point with key and page
// overhead), 61 KB of 1 min and 6 KB of 10 min points. With every tier
// full (24 h, 7 days, 30 days) a container holds about 1 MB, 200 MB for
// 200 containers; a removed container's share shrinks as its tiers expire
// and is gone after the retention.
//
// Retention runs every coarsest step (10 min), so a tier may hold up to
// one such step more than its keep.
package history

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/boltfile"
)

// Options configure a Store; zero values take the defaults.
type Options struct {
	// Tiers are the resolutions kept, finest first (see checkTiers);
	// default DefaultTiers(DefaultEvery, DefaultRetention). The finest
	// resolution must be the sampling cadence.
	Tiers []Tier
	// Now is the clock for retention and range checks; default time.Now.
	Now func() time.Time
	// NoSync skips the fsync of each commit: for tests and benchmarks
	// only, since a crash may then corrupt the file.
	NoSync bool
	// Logger; nil means slog.Default.
	Logger *slog.Logger
}

// Store is the stats history. Record is called by one goroutine (the
// sampler's); queries may run concurrently with it.
type Store struct {
	db    *bolt.DB
	tiers []Tier
	now   func() time.Time
	log   *slog.Logger

	mu     sync.RWMutex
	series map[seriesKey]*series
	byID   map[uint32]*series
	// expiredOnce is set once retention ran since Open, so a store
	// reopened after a long stop deletes what expired meanwhile at once.
	expiredOnce bool
}

// Errors of lookups; a bad range is a *RangeError.
var (
	ErrNotFound  = errors.New("history: no such container")
	ErrAmbiguous = errors.New("history: several containers match")
)

// Open opens (creating it if needed) the history file at path, e.g.
// DATA/history.db.
func Open(path string, opts Options) (*Store, error) {
	if opts.Tiers == nil {
		opts.Tiers = DefaultTiers(DefaultEvery, DefaultRetention)
	}
	if err := checkTiers(opts.Tiers); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("history: open: %w", err)
	}
	// The timeout turns "another process holds the file" into an error
	// instead of a silent hang; a damaged file is refused unwritten.
	db, err := boltfile.Open(path, bolt.Options{Timeout: 2 * time.Second, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("history: open %s: %w", path, err)
	}
	s := &Store{db: db, tiers: opts.Tiers, now: opts.Now, log: opts.Logger,
		series: map[seriesKey]*series{}, byID: map[uint32]*series{}}
	if err := s.init(); err != nil {
		_ = db.Close() // the open failed already; its error is the one to report
		return nil, err
	}
	return s, nil
}

// init creates the buckets and loads the series index.
func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range append([][]byte{bucketSeries, bucketMeta}, s.tierBuckets()...) {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return s.loadSeries(tx)
	})
	if err != nil {
		return fmt.Errorf("history: open: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("history: close: %w", err)
	}
	return nil
}

// Tiers returns the tiers kept, finest first.
func (s *Store) Tiers() []Tier { return append([]Tier(nil), s.tiers...) }

// Retention is how far back the history reaches: the coarsest tier's keep.
func (s *Store) Retention() time.Duration { return s.tiers[len(s.tiers)-1].Keep }

// Bucket names. Tier buckets are named after their resolution, so a
// changed cadence starts a new finest tier rather than mixing steps.
var (
	bucketSeries = []byte("series")
	bucketMeta   = []byte("meta")
)

func tierBucket(t Tier) []byte {
	return fmt.Appendf(nil, "tier-%d", int64(t.Resolution/time.Second))
}

func (s *Store) tierBuckets() [][]byte {
	out := make([][]byte, len(s.tiers))
	for i, t := range s.tiers {
		out[i] = tierBucket(t)
	}
	return out
}
