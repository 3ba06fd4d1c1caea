package benchfloor

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Every record put from many goroutines is in the file once Close returns,
// each under its own key.
func TestGroupCommitKeepsEveryPut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "floor.db")
	g, err := OpenGroupCommit(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := g.Put(fmt.Appendf(nil, "w%d-%d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seen := map[string]bool{}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bkRecords).ForEach(func(_, v []byte) error {
			seen[string(v)] = true
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct records stored, want %d", len(seen), writers*each)
	}
}

// Each index prefix given with a record is stored once, ending in the
// record's sequence number, so the floor writes as many index entries as
// the store it stands in for.
func TestGroupCommitWritesIndexEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "floor.db")
	g, err := OpenGroupCommit(path)
	if err != nil {
		t.Fatal(err)
	}
	e := wire.Event{Tags: []string{"host", "host:h1"}, Type: "metrics", Timestamp: time.Unix(5, 0)}
	for range 3 {
		if err := g.Put([]byte("rec"), IndexPrefixes(e)...); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys []string
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bkIndex).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, seq := range []byte{1, 2, 3} {
		for _, p := range IndexPrefixes(e) {
			want = append(want, string(p)+"\x00\x00\x00\x00\x00\x00\x00"+string(seq))
		}
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("index keys %q, want %q", keys, want)
	}
}
