package natsstore_test

import (
	"path/filepath"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
	"github.com/crowsnest-hq/crowsnest/internal/natstest"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/store/storetest"
)

// TestContract runs the store contract on the NATS store, each case on a
// fresh single JetStream server.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openReady(t, natsstore.Options{URLs: []string{natstest.Single(t)}, ViewPath: filepath.Join(t.TempDir(), "view.db")})
	})
}
