package stats

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
)

// Query is what one subscriber watches.
type Query struct {
	// Host limits frames to one engine; empty means all.
	Host string
	// Container limits frames to containers whose ID or name starts with
	// it; empty means all.
	Container string
	// Interval is how often the subscriber gets frames, at least
	// MinInterval; zero means DefaultInterval.
	Interval time.Duration
}

// matches reports whether the query covers a container of host.
func (q Query) matches(host string, ct *containerInfo) bool {
	if q.Host != "" && q.Host != host {
		return false
	}
	if q.Container == "" {
		return true
	}
	name := strings.TrimPrefix(q.Container, "/")
	return strings.HasPrefix(ct.ID, q.Container) || strings.HasPrefix(ct.Name, name)
}

// Item is one frame of a batch, with what a subscriber filters on.
type Item struct {
	Host, ID, Name string
	// Error marks an unreachable-engine frame (wire.StatsError).
	Error bool
	// Frame is the JSON to send, shared by every subscriber.
	Frame []byte
}

// Batch is one interval's frames for every subscriber of a group.
type Batch struct {
	Time  time.Time
	Items []Item
}

// Watch is one subscriber. Read batches from C until Done; Select picks the
// frames of a batch the subscriber asked for.
type Watch struct {
	q       Query
	c       *Collector
	g       *group
	sub     *hub.Subscription[*Batch]
	initial *Batch
}

// Subscribe adds a subscriber. Its sources start at once, and Initial holds
// the latest samples already known, so a client joining a watched set sees
// figures immediately instead of after one interval.
func (c *Collector) Subscribe(q Query) (*Watch, error) {
	if q.Interval == 0 {
		q.Interval = DefaultInterval
	}
	if q.Interval < MinInterval {
		return nil, fmt.Errorf("stats: interval %v is below %v", q.Interval, MinInterval)
	}
	if q.Host != "" {
		if _, err := c.eng.Client(q.Host); err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
	}
	now := time.Now()
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return nil, errors.New("stats: collector stopped")
	}
	g, ok := c.groups[q.Interval]
	if !ok {
		g = newGroup(q.Interval)
		c.groups[q.Interval] = g
		c.wg.Go(func() { c.runGroup(g) })
	}
	w := &Watch{q: q, c: c, g: g, sub: g.hub.Subscribe(c.opts.Queue)}
	g.watches[w] = struct{}{}
	stats, errs, _ := c.collectLocked([]Query{q}, q.Interval, now, nil)
	c.mu.Unlock()
	b, err := c.encode(now, stats, errs)
	if err != nil {
		w.Close()
		return nil, err
	}
	w.initial = b
	return w, nil
}

// Initial is the batch of samples known when the subscription started.
func (w *Watch) Initial() *Batch { return w.initial }

// C delivers a batch every interval.
func (w *Watch) C() <-chan *Batch { return w.sub.C() }

// Done is closed when the subscription ends: Close, a full queue
// (hub.ErrOverflow) or the collector stopping (hub.ErrClosed).
func (w *Watch) Done() <-chan struct{} { return w.sub.Done() }

// Err tells why the subscription ended.
func (w *Watch) Err() error { return w.sub.Err() }

// Interval is the subscriber's interval.
func (w *Watch) Interval() time.Duration { return w.q.Interval }

// Close ends the subscription. Its sources stop after the grace period
// unless someone else watches them.
func (w *Watch) Close() {
	w.sub.Close()
	w.c.mu.Lock()
	delete(w.g.watches, w)
	w.c.mu.Unlock()
}

// Select appends to dst the frames of b the subscriber asked for.
func (w *Watch) Select(b *Batch, dst [][]byte) [][]byte {
	for _, it := range b.Items {
		if w.q.Host != "" && it.Host != w.q.Host {
			continue
		}
		if !it.Error && w.q.Container != "" &&
			!strings.HasPrefix(it.ID, w.q.Container) && !strings.HasPrefix(it.Name, strings.TrimPrefix(w.q.Container, "/")) {
			continue
		}
		dst = append(dst, it.Frame)
	}
	return dst
}
