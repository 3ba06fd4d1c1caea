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
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Errors of Open and Check, wrapped with the details.
var (
	// ErrDamaged is a file that fails the consistency check.
	ErrDamaged = errors.New("the file is damaged")
	// ErrHeld is a file another process has open for writing.
	ErrHeld = errors.New("the file is in use")
)

// FullCheckUpTo is the largest file whose every page is checked at open
// (bbolt's Tx.Check walks every page: seconds a GiB read from the disk,
// a fraction of that from the page cache), so a start takes seconds at
// most. Larger files get the checks that take no walk: a valid meta page
// (bbolt's own, at open), and the size it claims against the file's; the
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
func Check(path string, timeout time.Duration) error {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && info.Size() == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("boltfile: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return held(path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return damaged(fmt.Sprintf("no valid meta page (%v)", err))
	case err != nil:
		return fmt.Errorf("boltfile: %w", err)
	}
	defer func() { _ = db.Close() }() // read-only: nothing to lose
	var findings []string
	err = db.View(func(tx *bolt.Tx) error {
		// A file shorter than its meta page says (truncated, or a write
		// lost) would make every later read past its end a fault.
		if tx.Size() > info.Size() {
			findings = append(findings, fmt.Sprintf("%d bytes long, its meta page says %d", info.Size(), tx.Size()))
			return nil
		}
		if info.Size() > FullCheckUpTo {
			return nil
		}
		for err := range tx.Check() { // read to the end: Check stops only then
			findings = append(findings, err.Error())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltfile: %w", err)
	}
	if len(findings) > 0 {
		return damaged(summary(findings))
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
