package store_test

import (
	"path/filepath"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/store/storetest"
)

// TestRecords runs the records contract on the bbolt file: each open
// closes the file the last one opened and opens it again.
func TestRecords(t *testing.T) {
	storetest.RunRecords(t, func(t *testing.T) storetest.Records {
		path := filepath.Join(t.TempDir(), "records.db")
		var st store.Store
		reopen := func() store.Store {
			if st != nil {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			if st, err = store.Open(path, store.Options{}); err != nil {
				t.Fatal(err)
			}
			return st
		}
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Error(err)
			}
		})
		return storetest.Records{
			Stacks: func() store.Stacks {
				recs, err := store.NewStacks(reopen())
				if err != nil {
					t.Fatal(err)
				}
				return recs
			},
			AlertRules: func() store.AlertRules {
				rules, err := store.NewAlertRules(reopen())
				if err != nil {
					t.Fatal(err)
				}
				return rules
			},
		}
	})
}
