package boltfile

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procLocks lists the file locks of the whole system (Linux); bbolt's lock
// is a flock on the file itself.
const procLocks = "/proc/locks"

// held is ErrHeld saying who holds the file, when the system tells.
func held(path string) error {
	who := "another process"
	if pid, ok := lockHolder(path); ok {
		who = fmt.Sprintf("another process (pid %d)", pid)
		if name := processName(pid); name != "" {
			who = fmt.Sprintf("another %s (pid %d)", name, pid)
		}
	}
	return fmt.Errorf("boltfile: %w: %s holds it; stop that one, or give this one another data directory", ErrHeld, who)
}

// lockHolder finds the process holding a lock on the file at path in
// /proc/locks, whose lines read "1: FLOCK ADVISORY WRITE 1234
// fe:01:5678 0 EOF" (the device's major and minor in hex, the inode in
// decimal); waiters' lines ("1: -> FLOCK …") are skipped. Locks of
// processes outside this PID namespace are not listed.
func lockHolder(path string) (int, bool) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	want := fmt.Sprintf("%02x:%02x:%d", devMajor(uint64(st.Dev)), devMinor(uint64(st.Dev)), st.Ino)
	f, err := os.Open(procLocks)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" || fields[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && pid != os.Getpid() {
			return pid, true
		}
	}
	return 0, false
}

// devMajor and devMinor split a Linux device number as the kernel's
// new_encode_dev lays it out.
func devMajor(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^0xfff }
func devMinor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^0xff }

// processName is the command name of pid, "" when it cannot be read.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
