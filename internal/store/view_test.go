package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestViewKeptOrRebuilt opens a view, applies three events and stops it in
// one of the ways a replica stops, then opens it again: what a clean close
// or a killed process left is kept, what may have lost unsynced writes (the
// machine restarted while the view was open, or the system names no boot)
// starts empty, for the caller to read the log again.
func TestViewKeptOrRebuilt(t *testing.T) {
	cases := []struct {
		name     string
		killed   bool   // stopped without Close
		bootThen string // the boot when it reopens; "" : the system names none
		want     uint64 // LastID after reopening
	}{
		{name: "closed, same boot", bootThen: "boot-a", want: 3},
		{name: "closed, then the machine restarted", bootThen: "boot-b", want: 3},
		{name: "killed, same boot", killed: true, bootThen: "boot-a", want: 3},
		{name: "killed, then the machine restarted", killed: true, bootThen: "boot-b", want: 0},
		{name: "killed, no boot id", killed: true, bootThen: "", want: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			setBoot(t, dir, "boot-a")
			path := filepath.Join(dir, "view.db")
			v, err := OpenView(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if err := v.Apply([]wire.Event{
				{ID: 1, Type: "a", Timestamp: now},
				{ID: 2, Type: "a", Timestamp: now},
				{ID: 3, Type: "a", Timestamp: now},
			}); err != nil {
				t.Fatal(err)
			}
			if tc.killed {
				v.s.beforeClose = nil // what a killed process never got to write
			}
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			setBoot(t, dir, tc.bootThen)
			v, err = OpenView(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			if got := v.LastID(); got != tc.want {
				t.Errorf("after reopening, LastID %d, want %d", got, tc.want)
			}
			if err := v.Apply([]wire.Event{{ID: 4, Type: "a", Timestamp: now}}); err != nil {
				t.Errorf("applying after reopening: %v", err)
			}
		})
	}
}

// TestViewUnreadableFileRebuilt: a view file bbolt cannot open is replaced.
func TestViewUnreadableFileRebuilt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "view.db")
	if err := os.WriteFile(path, []byte("not a bbolt file"), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := OpenView(path, Options{})
	if err != nil {
		t.Fatalf("opening over an unreadable file: %v", err)
	}
	defer v.Close()
	if v.LastID() != 0 {
		t.Errorf("LastID %d on a rebuilt view", v.LastID())
	}
}

// setBoot makes bootID answer boot ("" : no boot id) until the test ends.
func setBoot(t *testing.T, dir, boot string) {
	t.Helper()
	old := bootIDPath
	t.Cleanup(func() { bootIDPath = old })
	bootIDPath = filepath.Join(dir, "boot_id")
	if boot == "" {
		bootIDPath = filepath.Join(dir, "absent")
		return
	}
	if err := os.WriteFile(bootIDPath, []byte(boot+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedViewSetAside: a view that fails its check is moved aside,
// byte for byte, and the view starts empty, to be filled from the log.
func TestDamagedViewSetAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "view.db")
	v, err := OpenView(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Apply([]wire.Event{{ID: 1, Type: "a", Timestamp: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, info.Size()/2); err != nil {
		t.Fatal(err)
	}
	damaged, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err = OpenView(path, Options{})
	if err != nil {
		t.Fatalf("reopening a damaged view: %v", err)
	}
	defer v.Close()
	if got := v.LastID(); got != 0 {
		t.Errorf("LastID %d after the damaged view was set aside, want 0", got)
	}
	aside, err := os.ReadFile(path + ".damaged")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(aside, damaged) {
		t.Error("the view set aside is not the damaged file as it was")
	}
}
