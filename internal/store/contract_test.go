package store_test

import (
	"path/filepath"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := store.Open(filepath.Join(t.TempDir(), "events.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
