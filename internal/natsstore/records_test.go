package natsstore_test

import (
	"path/filepath"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
	"github.com/crowsnest-hq/crowsnest/internal/natstest"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/store/storetest"
)

// TestRecords runs the records contract on the NATS store, each case on a
// fresh JetStream server: each open is another replica of it.
func TestRecords(t *testing.T) {
	storetest.RunRecords(t, func(t *testing.T) storetest.Records {
		url := natstest.Single(t)
		replica := func() *natsstore.Store {
			st := openReady(t, natsstore.Options{URLs: []string{url}, ViewPath: filepath.Join(t.TempDir(), "view.db")})
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Error(err)
				}
			})
			return st
		}
		return storetest.Records{
			Stacks:     func() store.Stacks { return natsstore.NewStacks(replica()) },
			AlertRules: func() store.AlertRules { return natsstore.NewAlertRules(replica()) },
		}
	})
}
