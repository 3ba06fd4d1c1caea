package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/crowsnest-hq/crowsnest/internal/lease"
	"github.com/crowsnest-hq/crowsnest/internal/natsstore"
	"github.com/crowsnest-hq/crowsnest/internal/store"
)

// parseStoreFlags reads --store and checks the --nats-* flags against it.
func (c *Config) parseStoreFlags(storeURL string) error {
	natsFlags := c.NATSCreds != "" || c.NATSTLSCA != "" || c.NATSTLSCert != "" || c.NATSTLSKey != ""
	if storeURL == "" {
		if natsFlags {
			return errors.New("--nats-* flags need --store nats://…")
		}
		return nil
	}
	urls, err := natsstore.ParseURLs(storeURL)
	if err != nil {
		return fmt.Errorf("--store: %w", err)
	}
	if (c.NATSTLSCert == "") != (c.NATSTLSKey == "") {
		return errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	if c.NATSReplicas < 1 {
		return fmt.Errorf("--nats-replicas %d: want at least 1", c.NATSReplicas)
	}
	c.NATSURLs = urls
	return nil
}

// backends are the event store and what goes with it: where login
// sessions, stack records and alert rules are kept (the bbolt file, or
// NATS key-value buckets every replica shares), and the leases that share
// work between replicas (nil for a single crowsnest on its bbolt file).
type backends struct {
	store      store.Store
	sessions   store.Sessions
	stacks     store.Stacks
	alertRules store.AlertRules
	leases     *lease.Leases
}

// openStore opens the bbolt store in the data directory, or with --store
// nats:// the NATS JetStream store, whose local view is kept there. The
// latter returns at once, NATS or not: /healthz says why it is unavailable
// until a server answers.
func openStore(cfg Config, log *slog.Logger) (backends, error) {
	if len(cfg.NATSURLs) == 0 {
		st, err := store.Open(filepath.Join(cfg.DataDir, "crowsnest.db"), store.Options{
			Retention: cfg.Retention, MaxEvents: cfg.MaxEvents, Logger: log,
		})
		if err != nil {
			return backends{}, fmt.Errorf("open event store: %w", err)
		}
		b, err := boltRecords(st)
		if err != nil {
			_ = st.Close() // the records' error is the one to report
			return backends{}, err
		}
		return b, nil
	}
	name := replicaName(cfg)
	st, err := natsstore.Open(natsstore.Options{
		URLs:      cfg.NATSURLs,
		Creds:     cfg.NATSCreds,
		TLSCA:     cfg.NATSTLSCA,
		TLSCert:   cfg.NATSTLSCert,
		TLSKey:    cfg.NATSTLSKey,
		Replicas:  cfg.NATSReplicas,
		ViewPath:  filepath.Join(cfg.DataDir, "view.db"),
		Retention: cfg.Retention,
		MaxEvents: cfg.MaxEvents,
		Name:      name,
		Logger:    log,
	})
	if err != nil {
		return backends{}, fmt.Errorf("open event store: %w", err)
	}
	return backends{
		store:      st,
		sessions:   natsstore.NewSessions(st),
		stacks:     natsstore.NewStacks(st),
		alertRules: natsstore.NewAlertRules(st),
		leases:     lease.New(lease.Options{Bucket: st.KeyValue, Owner: name, Logger: log}),
	}, nil
}

// boltRecords opens the sessions, stack records and alert rules kept in
// the bbolt store's file.
func boltRecords(st store.Store) (backends, error) {
	sessions, err := store.NewSessions(st)
	if err != nil {
		return backends{}, fmt.Errorf("open session store: %w", err)
	}
	stacks, err := store.NewStacks(st)
	if err != nil {
		return backends{}, fmt.Errorf("stack records: %w", err)
	}
	rules, err := store.NewAlertRules(st)
	if err != nil {
		return backends{}, fmt.Errorf("alert rules: %w", err)
	}
	return backends{store: st, sessions: sessions, stacks: stacks, alertRules: rules}, nil
}

// replicaName tells replicas apart in leases and on the NATS servers: the
// host name and listen address, and the process id, since two replicas may
// share both (containers of one image on one network namespace do not,
// processes on one machine on different ports do not).
func replicaName(cfg Config) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return fmt.Sprintf("crowsnest %s %s pid %d", host, cfg.Addr, os.Getpid())
}
