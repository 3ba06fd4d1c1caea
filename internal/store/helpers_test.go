package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func openTest(t testing.TB, opts Options) *boltStore {
	t.Helper()
	st, err := Open(filepath.Join(t.TempDir(), "sub", "events.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st.(*boltStore)
}

func mustAppend(t testing.TB, s Store, events ...wire.Event) []wire.Event {
	t.Helper()
	out, err := s.Append(context.Background(), events...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ev(ts time.Time, typ string, tags ...string) wire.Event {
	return wire.Event{Tags: tags, Type: typ, Timestamp: ts}
}

// oracle is the brute-force model the store is compared against.
type oracle struct{ events []wire.Event } // in id order

func (o *oracle) query(q Query) Page {
	var all []wire.Event
	for i := len(o.events) - 1; i >= 0; i-- {
		if q.Match(o.events[i]) {
			all = append(all, o.events[i])
		}
	}
	page, per := max(q.Page, 1), q.PerPage
	if per < 1 {
		per = DefaultPerPage
	}
	per = min(per, MaxPerPage)
	p := Page{Events: []wire.Event{}, Total: len(all)}
	off := (page - 1) * per
	if off < len(all) {
		p.Events = all[off:min(off+per, len(all))]
	}
	return p
}

func (o *oracle) scan(after, upTo uint64, f Filter) []wire.Event {
	var out []wire.Event
	for _, e := range o.events {
		if e.ID > after && e.ID <= upTo && f.Match(e) {
			out = append(out, e)
		}
	}
	return out
}

func (o *oracle) dropOldest(n int) { o.events = o.events[n:] }

func sameEvents(t *testing.T, what string, got, want []wire.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events, want %d\n got ids %v\nwant ids %v", what, len(got), len(want), ids(got), ids(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Type != w.Type || !g.Timestamp.Equal(w.Timestamp) || !slices.Equal(g.Tags, w.Tags) || string(g.Value) != string(w.Value) {
			t.Fatalf("%s: event %d differs:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

func ids(es []wire.Event) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// checkIntegrity rebuilds every index from the records and compares it with
// what is stored, including spans and counters.
func checkIntegrity(t *testing.T, s *boltStore) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		tagWant := map[string][]uint64{}
		typeWant := map[string][]uint64{}
		timeWant := map[string]bool{}
		var n, prev uint64
		var runMax int64 = -1 << 63
		first := true
		err := tx.Bucket(bkEvents).ForEach(func(k, v []byte) error {
			id := keyID(k)
			if !first && id != prev+1 {
				return fmt.Errorf("ids not contiguous: %d after %d", id, prev)
			}
			first, prev = false, id
			r, err := decodeRecord(v)
			if err != nil {
				return err
			}
			runMax = max(runMax, r.ts)
			if r.maxTs < runMax {
				return fmt.Errorf("event %d: maxTs %d below running max %d", id, r.maxTs, runMax)
			}
			for _, tg := range r.tags {
				tagWant[string(tg)] = append(tagWant[string(tg)], id)
			}
			typeWant[string(r.typ)] = append(typeWant[string(r.typ)], id)
			timeWant[string(timeKey(r.ts, id))] = true
			n++
			return nil
		})
		if err != nil {
			return err
		}
		if c := getUint(tx.Bucket(bkMeta), keyCount); c != n {
			return fmt.Errorf("count %d, records %d", c, n)
		}
		if n > 0 && getUint(tx.Bucket(bkMeta), keyLastID) != prev {
			return fmt.Errorf("lastid %d, newest record %d", getUint(tx.Bucket(bkMeta), keyLastID), prev)
		}
		for _, c := range []struct {
			ix   index
			want map[string][]uint64
		}{{tagIndex, tagWant}, {typeIndex, typeWant}} {
			got := map[string][]uint64{}
			if err := tx.Bucket(c.ix.entries).ForEach(func(k, v []byte) error {
				name := string(k[:len(k)-9])
				got[name] = append(got[name], binary.BigEndian.Uint64(v))
				return nil
			}); err != nil {
				return err
			}
			metaN := 0
			if err := tx.Bucket(c.ix.meta).ForEach(func(k, v []byte) error {
				metaN++
				sp, _ := readSpan(tx.Bucket(c.ix.meta), string(k))
				if sp.size() != uint64(len(c.want[string(k)])) {
					return fmt.Errorf("%s %q: span %v, %d entries expected", c.ix.name, k, sp, len(c.want[string(k)]))
				}
				return nil
			}); err != nil {
				return err
			}
			if metaN != len(c.want) {
				return fmt.Errorf("%s: %d meta records, %d names", c.ix.name, metaN, len(c.want))
			}
			for name, w := range c.want {
				if !slices.Equal(got[name], w) {
					return fmt.Errorf("%s %q: entries %v, want %v", c.ix.name, name, got[name], w)
				}
			}
			if len(got) != len(c.want) {
				return fmt.Errorf("%s: %d names in entries, want %d", c.ix.name, len(got), len(c.want))
			}
		}
		tn := 0
		if err := tx.Bucket(bkTime).ForEach(func(k, _ []byte) error {
			tn++
			if !timeWant[string(k)] {
				return fmt.Errorf("stray time key %x", k)
			}
			return nil
		}); err != nil {
			return err
		}
		if tn != len(timeWant) {
			return fmt.Errorf("time index has %d keys, want %d", tn, len(timeWant))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("integrity: %v", err)
	}
}
