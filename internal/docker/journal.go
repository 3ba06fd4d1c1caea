package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	// LastActions returns, per container id, the newest stored event of
	// host among its latest limit events: what the record says of each
	// container.
	LastActions(ctx context.Context, host string, limit int) (map[string]wire.ContainerEvent, error)
}

// StoreJournal is the Journal on crowsnest's event store: container events
// as EventRecord shapes them, gaps as events of type "gap".
func StoreJournal(st store.Store) Journal { return storeJournal{st} }

type storeJournal struct{ st store.Store }

func (j storeJournal) Store(ctx context.Context, events []wire.ContainerEvent) error {
	recs := make([]wire.Event, len(events))
	for i, ev := range events {
		recs[i] = EventRecord(ev)
	}
	if _, err := j.st.Append(ctx, recs...); err != nil {
		return fmt.Errorf("storing %d container events: %w", len(events), err)
	}
	return nil
}

func (j storeJournal) Gap(ctx context.Context, g wire.Gap) error {
	value, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encoding gap: %w", err)
	}
	_, err = j.st.Append(ctx, wire.Event{
		Type:      wire.GapEventType,
		Tags:      []string{"host:" + g.Host, "reason:" + g.Reason},
		Timestamp: g.To,
		Value:     value,
	})
	if err != nil {
		return fmt.Errorf("storing gap: %w", err)
	}
	return nil
}

func (j storeJournal) Recent(ctx context.Context, host string, window time.Duration) ([]wire.ContainerEvent, error) {
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
		ev, err := DecodeRecord(e)
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
	out := map[string]wire.ContainerEvent{}
	f := store.Filter{Type: wire.ContainerEventType, Tags: []string{"host:" + host}}
	for p, read := 1, 0; read < limit; p++ {
		page, err := j.st.Query(ctx, store.Query{Filter: f, Page: p, PerPage: store.MaxPerPage})
		if err != nil {
			return nil, fmt.Errorf("reading the record of %s: %w", host, err)
		}
		for _, e := range page.Events {
			ev, err := DecodeRecord(e)
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
