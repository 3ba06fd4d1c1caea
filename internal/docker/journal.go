package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Journal is the durable record engines write to. Store must be durable when
// it returns nil; the engines call it concurrently.
type Journal interface {
	// Store keeps a batch of events of one host in one durable commit.
	Store(ctx context.Context, events []wire.ContainerEvent) error
	// Recent returns host's stored engine events whose timeNano is within
	// window of the newest one: what a resumed stream may deliver again.
	Recent(ctx context.Context, host string, window time.Duration) ([]wire.ContainerEvent, error)
	// Gap stores g.
	Gap(ctx context.Context, g wire.Gap) error
	// Start returns when the record of host began (engine clock,
	// timeNano), durably storing now as that when it has no beginning
	// yet: a crowsnest that finds nothing stored of host resumes from
	// it rather than from its own first subscription.
	Start(ctx context.Context, host string, now int64) (int64, error)
	// LastActions returns, per container id, the newest stored event of
	// host among its latest limit events: what the record says of each
	// container.
	LastActions(ctx context.Context, host string, limit int) (map[string]wire.ContainerEvent, error)
}

// StoreJournal is the Journal on crowsnest's event store: container events
// as wire.ContainerEvent.Record shapes them, gaps as events of type "gap".
//
// On a store shared by replicas (store.KeyedAppender) every record goes
// with its identity, so replicas watching the same engine store it once;
// reads (store.Syncer) first wait until the store holds what any replica
// stored, so a replica resumes from the shared record, not its own.
func StoreJournal(st store.Store) Journal { return storeJournal{st} }

type storeJournal struct{ st store.Store }

func (j storeJournal) Store(ctx context.Context, events []wire.ContainerEvent) error {
	recs := make([]wire.Event, len(events))
	keys := make([]string, len(events))
	for i, ev := range events {
		recs[i] = ev.Record()
		keys[i] = recordKey(ev)
	}
	if err := j.append(ctx, keys, recs); err != nil {
		return fmt.Errorf("storing %d container events: %w", len(events), err)
	}
	return nil
}

func (j storeJournal) Gap(ctx context.Context, g wire.Gap) error {
	value, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encoding gap: %w", err)
	}
	// Replicas resuming from the same record find the same gap: it starts
	// at the same stored event, whatever time each noticed it.
	key := identity("gap", g.Host, g.Reason, strconv.FormatInt(g.From.UnixNano(), 10))
	err = j.append(ctx, []string{key}, []wire.Event{{
		Type:      wire.GapEventType,
		Tags:      []string{"host:" + g.Host, "reason:" + g.Reason},
		Timestamp: g.To,
		Value:     value,
	}})
	if err != nil {
		return fmt.Errorf("storing gap: %w", err)
	}
	return nil
}

func (j storeJournal) Start(_ context.Context, host string, now int64) (int64, error) {
	start, err := store.RecordStart(j.st, host, now)
	if err != nil {
		return 0, fmt.Errorf("recording where the record of %s starts: %w", host, err)
	}
	return start, nil
}

// append stores recs, under keys when the store takes them.
func (j storeJournal) append(ctx context.Context, keys []string, recs []wire.Event) error {
	var err error
	if ka, ok := j.st.(store.KeyedAppender); ok {
		_, err = ka.AppendKeyed(ctx, keys, recs...)
	} else {
		_, err = j.st.Append(ctx, recs...)
	}
	return err
}

// recordKey is a container event's identity on a shared store: an engine
// event's eventKey (the action without the detail crowsnest may complete);
// a reconciled change's container, action and gap, since replicas closing
// one gap find the change at different times.
func recordKey(ev wire.ContainerEvent) string {
	k := keyOf(ev)
	if gap, ok := ev.Actor.Attributes[wire.ReconciledGapAttribute]; ok {
		return identity("reconciled", ev.Host, k.actor, k.action, gap)
	}
	return identity("event", ev.Host, k.actor, k.action, strconv.FormatInt(k.nano, 10))
}

// identity is a record's key on a shared store: a digest of the fields
// that make it what it is (for an engine event: host, actor, action and
// timeNano; see eventKey), short and safe as a message header.
func identity(kind string, fields ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, f := range fields {
		h.Write([]byte{0})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sync waits, on a shared store, until it holds what every replica stored.
func (j storeJournal) sync(ctx context.Context) error {
	if s, ok := j.st.(store.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return fmt.Errorf("catching up with the shared store: %w", err)
		}
	}
	return nil
}

func (j storeJournal) Recent(ctx context.Context, host string, window time.Duration) ([]wire.ContainerEvent, error) {
	if err := j.sync(ctx); err != nil {
		return nil, err
	}
	f := store.Filter{Type: wire.ContainerEventType, Tags: []string{"host:" + host}}
	page, err := j.st.Query(ctx, store.Query{Filter: f, PerPage: 1})
	if err != nil {
		return nil, fmt.Errorf("reading the newest event of %s: %w", host, err)
	}
	if len(page.Events) == 0 {
		return nil, nil
	}
	// The newest by id is within the window of the newest by time, so twice
	// the window back from it holds every event a resumed stream re-reads.
	from := page.Events[0].Timestamp.Add(-2 * window)
	f.Gte = &from
	var out []wire.ContainerEvent
	err = j.st.Scan(ctx, 0, 0, f, func(e wire.Event) error {
		ev, err := wire.DecodeContainerEvent(e)
		if err != nil {
			return err
		}
		if ev.Actor.Attributes[wire.ReconciledAttribute] == "" {
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading recent events of %s: %w", host, err)
	}
	return out, nil
}

func (j storeJournal) LastActions(ctx context.Context, host string, limit int) (map[string]wire.ContainerEvent, error) {
	if err := j.sync(ctx); err != nil {
		return nil, err
	}
	out := map[string]wire.ContainerEvent{}
	f := store.Filter{Type: wire.ContainerEventType, Tags: []string{"host:" + host}}
	for p, read := 1, 0; read < limit; p++ {
		page, err := j.st.Query(ctx, store.Query{Filter: f, Page: p, PerPage: store.MaxPerPage})
		if err != nil {
			return nil, fmt.Errorf("reading the record of %s: %w", host, err)
		}
		for _, e := range page.Events {
			ev, err := wire.DecodeContainerEvent(e)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("reading the record of %s", host), err)
			}
			if _, newer := out[ev.Actor.ID]; !newer {
				out[ev.Actor.ID] = ev
			}
		}
		read += len(page.Events)
		if len(page.Events) < store.MaxPerPage {
			break
		}
	}
	return out, nil
}
