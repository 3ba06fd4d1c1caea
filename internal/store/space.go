package store

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrNoSpace wraps a write that failed because the file system holding the
// store is full (or the user's quota is used up). Its own text names no
// path, so it can be shown to clients; the HTTP layer answers 507.
var ErrNoSpace = errors.New("store: no space left on the device holding the event store")

// spaceToRecover is the free space at which a store that ran out of it
// reports healthy again without waiting for its next write: enough for a
// commit of a few thousand events and the file's growth.
const spaceToRecover = 4 << 20

// noSpace wraps err with ErrNoSpace when the file system is full.
func noSpace(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// Health is nil unless the last commit failed for want of space and the
// file system still has less than spaceToRecover free: a store that cannot
// take events says so (on /healthz) before the next write fails, and says
// it can again once space is freed, whether or not anything was written.
func (s *boltStore) Health() error {
	if !s.full.Load() {
		return nil
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &fs); err == nil && fs.Bavail*uint64(fs.Bsize) >= spaceToRecover {
		s.full.Store(false)
		return nil
	}
	return ErrNoSpace
}
