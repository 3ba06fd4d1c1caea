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
// path and the id of a leaf page of the second half.
func sampleFile(t *testing.T) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.db")
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
	leaf := 0
	err = db.View(func(tx *bolt.Tx) error {
		pages := int(tx.Size()) / db.Info().PageSize
		for id := pages / 2; id < pages && leaf == 0; id++ {
			if info, err := tx.Page(id); err == nil && info != nil && info.Type == "leaf" {
				leaf = id
			}
		}
		return nil
	})
	if err != nil || leaf == 0 {
		t.Fatalf("no leaf page found: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, leaf
}

// TestCheck: a sound file passes; an overwritten page fails the full
// check, or passes unseen when the file is above FullCheckUpTo; a cut file
// fails at any size.
func TestCheck(t *testing.T) {
	overwrite := func(t *testing.T, path string, leaf int) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		junk := make([]byte, os.Getpagesize())
		for i := range junk {
			junk[i] = byte(i*7 + 3)
		}
		if _, err := f.WriteAt(junk, int64(leaf*os.Getpagesize())); err != nil {
			t.Fatal(err)
		}
	}
	cut := func(t *testing.T, path string, _ int) {
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
		damage    func(t *testing.T, path string, leaf int)
		fullUpTo  int64
		wantFound bool
	}{
		{"sound", func(*testing.T, string, int) {}, 1 << 30, false},
		{"page overwritten", overwrite, 1 << 30, true},
		{"page overwritten, file above the full check", overwrite, 0, false},
		{"cut to half", cut, 1 << 30, true},
		{"cut to half, file above the full check", cut, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := FullCheckUpTo
			FullCheckUpTo = tc.fullUpTo
			defer func() { FullCheckUpTo = old }()
			path, leaf := sampleFile(t)
			tc.damage(t, path, leaf)
			err := Check(path, 0)
			if found := errors.Is(err, ErrDamaged); found != tc.wantFound {
				t.Fatalf("Check: %v, want damage found %v", err, tc.wantFound)
			}
			if !tc.wantFound && err != nil {
				t.Fatal(err)
			}
		})
	}
}
