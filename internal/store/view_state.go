package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A view records in its meta bucket whether it is open, and since which
// boot of the machine. Without fsync, only a machine that stopped (a power
// cut, a kernel crash) can lose or reorder the view's writes: when the
// process alone dies, everything it wrote is in the kernel's page cache, in
// the order bbolt wrote it, and the file is as consistent as after an
// fsync. So a view found open since another boot is rebuilt, one found open
// since this boot (the process was killed) is kept.
var keyViewState = []byte("viewstate")

const (
	viewClosed = "closed"
	viewOpenOn = "open on boot "
)

// bootIDPath names the running kernel's boot; a variable for tests.
var bootIDPath = "/proc/sys/kernel/random/boot_id"

// bootID is the machine's current boot, "" where the system does not say.
func bootID() string {
	b, err := os.ReadFile(bootIDPath)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// usableView reports whether the view file at path can be kept: absent,
// closed cleanly, written by a version that fsynced every commit (no
// state), or open since this boot. A file bbolt cannot open is not usable.
func usableView(path, boot string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: true})
	if errors.Is(err, bolt.ErrTimeout) {
		return false, fmt.Errorf("store: view %s: %w", path, err)
	}
	if err != nil {
		return false, nil
	}
	defer func() { _ = db.Close() }() // read-only: nothing to lose
	var state []byte
	err = db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bkMeta); meta != nil {
			state = bytes.Clone(meta.Get(keyViewState))
		}
		return nil
	})
	if err != nil {
		return false, nil
	}
	switch string(state) {
	case "", viewClosed:
		return true, nil
	default:
		return boot != "" && string(state) == viewOpenOn+boot, nil
	}
}

// viewMark marks a view's file open on the machine's current boot, and
// closed when it is closed.
type viewMark struct{ boot string }

func (m *viewMark) open(db *bolt.DB) error  { return setViewState(db, viewOpenOn+m.boot) }
func (m *viewMark) close(db *bolt.DB) error { return setViewState(db, viewClosed) }

// setViewState records state and waits until it is on disk, so the mark is
// never newer than the commits it speaks for.
func setViewState(db *bolt.DB, state string) error {
	err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bkMeta).Put(keyViewState, []byte(state))
	})
	if err == nil {
		err = db.Sync()
	}
	if err != nil {
		return fmt.Errorf("store: view: recording %q: %w", state, err)
	}
	return nil
}
