package stats

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// group serves every subscriber of one interval: each tick it builds the
// frames once (one JSON encoding per container, however many clients) and
// publishes them as a batch each subscriber filters.
type group struct {
	interval time.Duration
	hub      *hub.Hub[*Batch]
	watches  map[*Watch]struct{}
	// sent are the frames of the last tick, so a container that stopped
	// since gets one last frame with its new state and zero usage.
	sent map[key]wire.Stats
}

func newGroup(d time.Duration) *group {
	return &group{interval: d, hub: hub.New[*Batch](), watches: map[*Watch]struct{}{}, sent: map[key]wire.Stats{}}
}

// runGroup ticks until the group has no subscriber left or the collector
// stops.
func (c *Collector) runGroup(g *group) {
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case now := <-t.C:
			if !c.tick(g, now) {
				return
			}
		}
	}
}

// tick publishes one batch; it reports false once the group has ended.
func (c *Collector) tick(g *group, now time.Time) bool {
	c.mu.Lock()
	if len(g.watches) == 0 {
		if c.groups[g.interval] == g {
			delete(c.groups, g.interval)
		}
		g.hub.Close()
		c.mu.Unlock()
		return false
	}
	queries := make([]Query, 0, len(g.watches))
	for w := range g.watches {
		queries = append(queries, w.q)
	}
	stats, errs, sent := c.collectLocked(queries, g.interval, now, g.sent)
	g.sent = sent
	c.mu.Unlock()
	b, err := c.encode(now, stats, errs)
	if err != nil {
		c.log.Error("stats: encoding frames", "err", err)
		return true
	}
	g.hub.Publish(b)
	return true
}

// collectLocked gathers the frames due now for queries: a frame per
// running container any query covers and whose source has a sample (the
// sources are started or kept alive on the way), a last frame for each
// container of sent that is no longer running, and an error frame per
// unreachable engine. It returns the frames sent, to pass next time.
// c.mu is held.
func (c *Collector) collectLocked(queries []Query, d time.Duration, now time.Time, sent map[key]wire.Stats) ([]wire.Stats, []wire.StatsError, map[key]wire.Stats) {
	var frames []wire.Stats
	var errs []wire.StatsError
	next := make(map[key]wire.Stats, len(sent))
	// An engine whose event stream broke is unreachable now, though the
	// inventory may not list it again for a whole Resync period: say so at
	// once rather than repeat its containers' last samples silently.
	down := map[string]string{}
	for _, h := range c.eng.Hosts() {
		if h.State == wire.HostUnreachable {
			down[h.Name] = h.Error
		}
	}
	for _, host := range c.order {
		h := c.hosts[host]
		if !slices.ContainsFunc(queries, func(q Query) bool { return q.Host == "" || q.Host == host }) {
			continue
		}
		if h.err != nil {
			errs = append(errs, wire.StatsError{HostID: host, Error: h.err.Error()})
		} else if reason, ok := down[host]; ok {
			errs = append(errs, wire.StatsError{HostID: host, Error: "engine unreachable: " + reason})
		}
		ids := make([]string, 0, len(h.containers))
		for id, ct := range h.containers {
			if ct.State == "running" && slices.ContainsFunc(queries, func(q Query) bool { return q.matches(host, ct) }) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids) // a stable order makes the stream easy to read and diff
		for _, id := range ids {
			k := key{host, id}
			s := c.ensureSourceLocked(k, d, now)
			if s == nil {
				continue
			}
			u, ok := s.latest()
			if !ok {
				continue
			}
			f := frame(host, h.containers[id], now)
			u.fill(&f)
			frames = append(frames, f)
			next[k] = f
		}
	}
	for k, f := range sent {
		if _, still := next[k]; still {
			continue
		}
		h := c.hosts[k.host]
		ct, ok := h.containers[k.id]
		if ok && ct.State == "running" {
			continue // between samples (a restarting source): nothing to say yet
		}
		if ok {
			f.State, f.Status = ct.State, statusText(ct, now)
		} else {
			f.State, f.Status = "removed", "Removed"
		}
		f.CPUUsage, f.MemoryUsage, f.MemoryBytes, f.PIDs = 0, 0, 0, 0
		f.Timestamp = now.UTC()
		frames = append(frames, f)
	}
	return frames, errs, next
}

// frame is a container's identity part of a Stats frame.
func frame(host string, ct *containerInfo, now time.Time) wire.Stats {
	return wire.Stats{
		ID:     ct.ID,
		HostID: host,
		Name:   ct.Name,
		Image:  ct.Image,
		Status: statusText(ct, now),
		State:  ct.State,
	}
}

// encode marshals the frames of one batch.
func (c *Collector) encode(now time.Time, stats []wire.Stats, errs []wire.StatsError) (*Batch, error) {
	b := &Batch{Time: now, Items: make([]Item, 0, len(stats)+len(errs))}
	for _, e := range errs {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("stats error frame: %w", err)
		}
		b.Items = append(b.Items, Item{Host: e.HostID, Error: true, Frame: data})
	}
	for _, s := range stats {
		data, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("stats frame: %w", err)
		}
		b.Items = append(b.Items, Item{Host: s.HostID, ID: s.ID, Name: s.Name, Frame: data})
	}
	c.frames.Add(uint64(len(stats)))
	return b, nil
}
