// Package boltfile opens crowsnest's bbolt files (the event store, its
// NATS view, the stats history) only once they are known to be sound and
// free: a file is first opened read-only and checked, so a damaged one is
// refused before anything writes to it (bbolt would panic on its first
// write, after changing the file), and a file another process holds is
// reported with that process instead of a bare timeout.
package boltfile

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Errors of Open and Check, wrapped with the details.
var (
	// ErrDamaged is a file that fails the consistency check.
	ErrDamaged = errors.New("the file is damaged")
	// ErrHeld is a file another process holds (bbolt locks its files).
	ErrHeld = errors.New("the file is in use")
)

// FullCheckUpTo is the largest file whose every page is checked at open
// (bbolt's Tx.Check walks every page: seconds a GiB read from the disk,
// a fraction of that from the page cache), so a start takes seconds at
// most. Larger files get the checks that take no walk (see Check); the
// rest of their damage shows as errors, or as a panic of bbolt, when the
// pages are read. A variable for tests.
var FullCheckUpTo int64 = 1 << 30

// maxReported is how many of the check's findings an error quotes.
const maxReported = 3

// Open checks the file at path (see Check) and opens it for writing with
// opts, creating it if absent. opts.Timeout bounds the wait for another
// process's lock, as in bolt.Open; ReadOnly must not be set.
func Open(path string, opts bolt.Options) (*bolt.DB, error) {
	if err := Check(path, opts.Timeout); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &opts)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, held(path)
	}
	if err != nil {
		return nil, fmt.Errorf("boltfile: %w", err)
	}
	return db, nil
}

// Check opens the file at path read-only and checks it: ErrDamaged when
// it is not sound, ErrHeld when another process holds it for longer than
// timeout. An absent or empty file (one bbolt will create) passes. Nothing
// is written to the file.
//
// The checks run from the cheapest: a valid meta page (bbolt's, at open);
// the size that meta page claims against the file's, before any other
// page is read (a read past the end of the file would be a fault); the
// freelist, which bbolt loads whole before a write; then, up to
// FullCheckUpTo, every page (Tx.Check).
func Check(path string, timeout time.Duration) error {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && info.Size() == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("boltfile: %w", err)
	}
	var findings []string
	err = inspect(path, timeout, false, func(db *bolt.DB, tx *bolt.Tx) {
		if tx.Size() > info.Size() {
			findings = append(findings, fmt.Sprintf("%d bytes long, its meta page says %d", info.Size(), tx.Size()))
		}
	})
	if err == nil && len(findings) == 0 {
		err = inspect(path, timeout, true, func(db *bolt.DB, tx *bolt.Tx) {
			pages := tx.Size() / int64(db.Info().PageSize)
			if st := db.Stats(); int64(st.FreePageN+st.PendingPageN) > pages {
				findings = append(findings, fmt.Sprintf("its freelist counts %d free pages of %d", st.FreePageN+st.PendingPageN, pages))
				return
			}
			if info.Size() > FullCheckUpTo {
				return
			}
			for err := range tx.Check() { // read to the end: Check stops only then
				findings = append(findings, err.Error())
			}
		})
	}
	if err != nil {
		return err
	}
	if len(findings) > 0 {
		return damaged(summary(findings))
	}
	return nil
}

// inspect opens the file at path read-only (loading its freelist with
// freelist) and calls fn in a read transaction. A panic of bbolt over a
// damaged page, or a fault reading one, is damage found.
func inspect(path string, timeout time.Duration, freelist bool, fn func(*bolt.DB, *bolt.Tx)) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = damaged(fmt.Sprint(r))
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout, PreLoadFreelist: freelist})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return held(path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return damaged(fmt.Sprintf("no valid meta page (%v)", err))
	case err != nil:
		return fmt.Errorf("boltfile: %w", err)
	}
	defer func() { _ = db.Close() }() // read-only: nothing to lose
	if err := db.View(func(tx *bolt.Tx) error { fn(db, tx); return nil }); err != nil {
		return fmt.Errorf("boltfile: %w", err)
	}
	return nil
}

// summary quotes the first findings and counts the others.
func summary(findings []string) string {
	if len(findings) <= maxReported {
		return strings.Join(findings, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(findings[:maxReported], "; "), len(findings)-maxReported)
}

// damaged is ErrDamaged with what was found and what to do.
func damaged(found string) error {
	return fmt.Errorf("boltfile: %w (%s); nothing was written to it: restore it from a backup, or move it aside to start with an empty one", ErrDamaged, found)
}
