package boltfile

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// sampleFile writes a bbolt file of a few hundred pages and returns its
// path, the id of a leaf page of the second half and that of its freelist.
func sampleFile(t *testing.T) (path string, leaf, freelist int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "f.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i := range 5000 {
			if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(i)), make([]byte, 200)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		pages := int(tx.Size()) / db.Info().PageSize
		for id := 2; id < pages; id++ {
			info, err := tx.Page(id)
			if err != nil || info == nil {
				return err
			}
			switch {
			case info.Type == "leaf" && id >= pages/2 && leaf == 0:
				leaf = id
			case info.Type == "freelist":
				freelist = id
			}
		}
		return nil
	})
	if err != nil || leaf == 0 || freelist == 0 {
		t.Fatalf("no leaf page or freelist found: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, leaf, freelist
}

// TestCheck: a sound file passes; an overwritten page fails the full
// check, or passes unseen when the file is above FullCheckUpTo; a cut file
// or a damaged freelist fails at any size.
func TestCheck(t *testing.T) {
	overwrite := func(t *testing.T, path string, page int) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		junk := make([]byte, os.Getpagesize())
		for i := range junk {
			junk[i] = byte(i*7 + 3)
		}
		if _, err := f.WriteAt(junk, int64(page*os.Getpagesize())); err != nil {
			t.Fatal(err)
		}
	}
	overwriteLeaf := func(t *testing.T, path string, leaf, _ int) { overwrite(t, path, leaf) }
	overwriteFreelist := func(t *testing.T, path string, _, freelist int) { overwrite(t, path, freelist) }
	cut := func(t *testing.T, path string, _, _ int) {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, info.Size()/2); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		damage    func(t *testing.T, path string, leaf, freelist int)
		fullUpTo  int64
		wantFound bool
	}{
		{"sound", func(*testing.T, string, int, int) {}, 1 << 30, false},
		{"page overwritten", overwriteLeaf, 1 << 30, true},
		{"page overwritten, file above the full check", overwriteLeaf, 0, false},
		{"freelist overwritten, file above the full check", overwriteFreelist, 0, true},
		{"cut to half", cut, 1 << 30, true},
		{"cut to half, file above the full check", cut, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := FullCheckUpTo
			FullCheckUpTo = tc.fullUpTo
			defer func() { FullCheckUpTo = old }()
			path, leaf, freelist := sampleFile(t)
			tc.damage(t, path, leaf, freelist)
			err := Check(path, 0)
			t.Logf("Check: %v", err)
			if found := errors.Is(err, ErrDamaged); found != tc.wantFound {
				t.Fatalf("Check: %v, want damage found %v", err, tc.wantFound)
			}
			if !tc.wantFound && err != nil {
				t.Fatal(err)
			}
		})
	}
}
