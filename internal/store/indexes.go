package store

import (
	"encoding/binary"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// Bucket layout:
//
//	events    id → record (see event_encoding.go)
//	time      timestamp|id → nothing
//	tag       name \x00 seq → id      tagmeta  name → first seq | last seq
//	type      name \x00 seq → id      typemeta name → first seq | last seq
//	meta      "version", "lastid", "count", "maxts"
//
// Every tag and type index gives its entries their own sequence numbers,
// 1, 2, 3… in id order. Retention only ever deletes the oldest ids, so the
// live entries of an index are always the contiguous run first..last: the
// index's size is last-first+1 without a scan, and page P of a single-tag
// query starts at seq last-(P-1)*perPage with one seek. Ids themselves are
// contiguous for the same reason (they are assigned without gaps and only
// the oldest are deleted), so the events bucket is its own index.
var (
	bkEvents   = []byte("events")
	bkTime     = []byte("time")
	bkTag      = []byte("tag")
	bkTagMeta  = []byte("tagmeta")
	bkType     = []byte("type")
	bkTypeMeta = []byte("typemeta")
	bkMeta     = []byte("meta")

	keyVersion = []byte("version")
	keyLastID  = []byte("lastid")
	keyCount   = []byte("count")
	keyMaxTs   = []byte("maxts")
)

const schemaVersion = 1

// index names the pair of buckets of one secondary index.
type index struct {
	name          string // "tag" or "type", for messages
	entries, meta []byte
}

var (
	tagIndex  = index{"tag", bkTag, bkTagMeta}
	typeIndex = index{"type", bkType, bkTypeMeta}
)

func indexKey(name string, seq uint64) []byte {
	k := make([]byte, 0, len(name)+9)
	k = append(k, name...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// span is an index's live run of sequence numbers; empty when first > last.
type span struct{ first, last uint64 }

func (s span) size() uint64 {
	if s.first > s.last {
		return 0
	}
	return s.last - s.first + 1
}

func readSpan(b *bolt.Bucket, name string) (span, bool) {
	v := b.Get([]byte(name))
	if len(v) != 16 {
		return span{1, 0}, false
	}
	return span{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])}, true
}

func encodeSpan(s span) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, s.first)
	binary.BigEndian.PutUint64(v[8:], s.last)
	return v
}

// idAt returns the event id stored at seq of the index entry run of name.
func idAt(b *bolt.Bucket, name string, seq uint64) (uint64, error) {
	v := b.Get(indexKey(name, seq))
	if len(v) != 8 {
		return 0, fmt.Errorf("store: index entry %q #%d missing: %w", name, seq, errCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

// seqRange narrows the span of name to the entries whose ids lie in
// [lo, hi], by binary search over the (id-ordered) entries. The result is
// empty (first > last) when none do.
func seqRange(b *bolt.Bucket, name string, s span, lo, hi uint64) (span, error) {
	if s.size() == 0 {
		return span{1, 0}, nil
	}
	var err error
	search := func(pred func(id uint64) bool) uint64 {
		n := int(s.size())
		i := sort.Search(n, func(i int) bool {
			if err != nil {
				return true
			}
			id, e := idAt(b, name, s.first+uint64(i))
			if e != nil {
				err = e
				return true
			}
			return pred(id)
		})
		return s.first + uint64(i)
	}
	first := search(func(id uint64) bool { return id >= lo })
	end := search(func(id uint64) bool { return id > hi })
	if err != nil {
		return span{1, 0}, err
	}
	if end == 0 || first > end-1 {
		return span{1, 0}, nil
	}
	return span{first, end - 1}, nil
}

// ixWriter batches span updates of one index within one write transaction:
// a group commit of many events touching the same tag writes its meta once.
type ixWriter struct {
	entries, meta *bolt.Bucket
	spans         map[string]*span
}

func newIxWriter(tx *bolt.Tx, ix index) ixWriter {
	return ixWriter{entries: tx.Bucket(ix.entries), meta: tx.Bucket(ix.meta), spans: make(map[string]*span)}
}

func (w ixWriter) span(name string) *span {
	if s, ok := w.spans[name]; ok {
		return s
	}
	s, _ := readSpan(w.meta, name)
	w.spans[name] = &s
	return &s
}

func (w ixWriter) add(name string, id uint64) error {
	s := w.span(name)
	s.last++
	if err := w.entries.Put(indexKey(name, s.last), idKey(id)); err != nil {
		return fmt.Errorf("index %q: %w", name, err)
	}
	return nil
}

// removeOldest deletes the first entry of name, which must be id: retention
// deletes in id order, so anything else means the index is damaged.
func (w ixWriter) removeOldest(name string, id uint64) error {
	s := w.span(name)
	if s.size() == 0 {
		return fmt.Errorf("index %q empty while deleting event %d: %w", name, id, errCorrupt)
	}
	k := indexKey(name, s.first)
	v := w.entries.Get(k)
	if len(v) != 8 || binary.BigEndian.Uint64(v) != id {
		return fmt.Errorf("index %q #%d does not point at event %d: %w", name, s.first, id, errCorrupt)
	}
	if err := w.entries.Delete(k); err != nil {
		return fmt.Errorf("index %q: %w", name, err)
	}
	s.first++
	return nil
}

// flush writes the changed spans. An emptied index loses its meta record so
// that one-off tags (container names of long-gone containers) do not
// accumulate; its sequence restarts at 1 if the name comes back, which is
// safe because no entry of it is left.
func (w ixWriter) flush() error {
	for name, s := range w.spans {
		var err error
		if s.size() == 0 {
			err = w.meta.Delete([]byte(name))
		} else {
			err = w.meta.Put([]byte(name), encodeSpan(*s))
		}
		if err != nil {
			return fmt.Errorf("index meta %q: %w", name, err)
		}
	}
	return nil
}

func getUint(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putUint(b *bolt.Bucket, k []byte, v uint64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(make([]byte, 0, 8), v))
}
