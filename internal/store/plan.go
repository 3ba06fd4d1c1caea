package store

import (
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Query planning. Every filter is answered from one candidate source,
// walked in id order, with the rest of the filter checked on each record:
//
//   - all: the events bucket itself (ids are contiguous);
//   - one tag's or the type's index entries;
//   - the time index, for timestamp ranges.
//
// The planner first narrows the id window: after/upTo (Scan) and, for a
// lower time bound, the first id whose running maximum timestamp reaches it
// (binary search; see event_encoding.go). It then counts each source within that
// window: exactly and in O(log n) for all, tags and type (index spans plus
// binary search), and for the time index by walking the range but giving up
// as soon as it exceeds the best count found so far. The smallest source
// wins.
//
// Cost: when the source alone decides the filter (no filter, one tag, the
// type, or only timestamps) the source's size is the Total and a page costs
// a seek plus perPage reads, whatever the page number (only a time source
// walks its range once to collect ids). Otherwise, for compound filters
// (several tags, tag and type, tag and time…), every candidate of the
// smallest source is read and checked, so the cost is proportional to the
// rarest tag/type in the filter (or the time range), not to the store.
type srcKind int

const (
	srcAll srcKind = iota
	srcTag
	srcType
	srcTime
)

type plan struct {
	f        Filter // tags deduplicated
	tlo, thi int64  // inclusive nanosecond bounds

	kind srcKind
	name string // tag or type name of an index source
	seq  span   // for all: the id window; for an index: its seq window
	ids  []uint64
	// exact: every candidate matches, so no record has to be checked.
	exact bool
}

func (p *plan) size() uint64 {
	if p.kind == srcTime {
		return uint64(len(p.ids))
	}
	return p.seq.size()
}

func emptyPlan(f Filter) *plan {
	return &plan{f: f, kind: srcAll, seq: span{1, 0}, exact: true}
}

// makePlan plans f over the ids in (after, upTo]; upTo 0 means no bound.
func makePlan(tx *bolt.Tx, f Filter, after, upTo uint64) (*plan, error) {
	f.Tags = f.distinctTags()
	evb := tx.Bucket(bkEvents)
	k, _ := evb.Cursor().First()
	if k == nil {
		return emptyPlan(f), nil
	}
	lo := max(keyID(k), after+1)
	hi := getUint(tx.Bucket(bkMeta), keyLastID)
	if upTo > 0 {
		hi = min(hi, upTo)
	}
	tlo, thi := f.nanoBounds()
	if lo > hi || tlo > thi {
		return emptyPlan(f), nil
	}
	if f.Gt != nil || f.Gte != nil {
		start, err := envelopeStart(evb, lo, hi, tlo)
		if err != nil {
			return nil, err
		}
		lo = start
		if lo > hi {
			return emptyPlan(f), nil
		}
	}

	best := &plan{f: f, tlo: tlo, thi: thi, kind: srcAll, seq: span{lo, hi}}
	consider := func(ix index, kind srcKind, name string) error {
		b := tx.Bucket(ix.entries)
		s, ok := readSpan(tx.Bucket(ix.meta), name)
		if !ok {
			best = &plan{f: f, tlo: tlo, thi: thi, kind: kind, name: name, seq: span{1, 0}}
			return nil
		}
		if s.size() >= best.size() && s.size() > 0 {
			// Narrowing can only shrink it; skip the binary search when
			// even the whole run is not better. Windows over the whole
			// store need no search at all.
			return nil
		}
		firstID, err := idAt(b, name, s.first)
		if err != nil {
			return err
		}
		lastID, err := idAt(b, name, s.last)
		if err != nil {
			return err
		}
		if firstID < lo || lastID > hi {
			if s, err = seqRange(b, name, s, lo, hi); err != nil {
				return err
			}
		}
		if s.size() < best.size() {
			best = &plan{f: f, tlo: tlo, thi: thi, kind: kind, name: name, seq: s}
		}
		return nil
	}
	for _, t := range f.Tags {
		if err := consider(tagIndex, srcTag, t); err != nil {
			return nil, err
		}
	}
	if f.Type != "" {
		if err := consider(typeIndex, srcType, f.Type); err != nil {
			return nil, err
		}
	}
	if f.hasTime() && best.size() > 0 {
		ids, ok, err := collectTime(tx.Bucket(bkTime), tlo, thi, lo, hi, best.size())
		if err != nil {
			return nil, err
		}
		if ok {
			best = &plan{f: f, tlo: tlo, thi: thi, kind: srcTime, ids: ids}
		}
	}
	switch best.kind {
	case srcAll:
		best.exact = len(f.Tags) == 0 && f.Type == "" && !f.hasTime()
	case srcTag:
		best.exact = len(f.Tags) == 1 && f.Type == "" && !f.hasTime()
	case srcType:
		best.exact = len(f.Tags) == 0 && !f.hasTime()
	case srcTime:
		best.exact = len(f.Tags) == 0 && f.Type == ""
	}
	if best.size() == 0 {
		best.exact = true
	}
	return best, nil
}

// envelopeStart finds the first id in [lo, hi] whose running maximum
// timestamp is at least tlo; every event before it is older than tlo. It
// returns hi+1 when there is none.
func envelopeStart(evb *bolt.Bucket, lo, hi uint64, tlo int64) (uint64, error) {
	a, b := lo, hi+1 // invariant: answer in [a, b]
	for a < b {
		m := a + (b-a)/2
		v := evb.Get(idKey(m))
		if v == nil {
			// Deleted by retention since the window was read: treat as old.
			a = m + 1
			continue
		}
		mt, err := recordMaxTs(v)
		if err != nil {
			return 0, fmt.Errorf("event %d: %w", m, err)
		}
		if mt >= tlo {
			b = m
		} else {
			a = m + 1
		}
	}
	return a, nil
}

// collectTime returns the ids in [lo, hi] of the time-index entries within
// [tlo, thi], sorted by id, or ok=false as soon as there are more than limit.
func collectTime(tb *bolt.Bucket, tlo, thi int64, lo, hi, limit uint64) ([]uint64, bool, error) {
	var ids []uint64
	c := tb.Cursor()
	for k, _ := c.Seek(timeKey(tlo, 0)); k != nil; k, _ = c.Next() {
		ts, id, err := timeKeyParts(k)
		if err != nil {
			return nil, false, err
		}
		if ts > thi {
			break
		}
		if id < lo || id > hi {
			continue
		}
		if uint64(len(ids)) >= limit {
			return nil, false, nil
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, true, nil
}

// walk visits the candidates of p from position start, in id order (desc:
// newest first), until fn returns false. Positions are ids for all, seqs for
// index sources and indexes into p.ids for time. rec is the record, or nil
// when the event disappeared (retention) between planning and reading.
func (p *plan) walk(tx *bolt.Tx, start uint64, desc bool, fn func(id uint64, rec []byte) (bool, error)) error {
	evb := tx.Bucket(bkEvents)
	switch p.kind {
	case srcAll:
		c := evb.Cursor()
		k, v := c.Seek(idKey(start))
		if desc && (k == nil || keyID(k) > start) {
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil; k, v = step(c, desc) {
			id := keyID(k)
			if id < p.seq.first || id > p.seq.last {
				return nil
			}
			if more, err := fn(id, v); err != nil || !more {
				return err
			}
		}
	case srcTag, srcType:
		ix := tagIndex
		if p.kind == srcType {
			ix = typeIndex
		}
		b := tx.Bucket(ix.entries)
		for seq := start; seq >= p.seq.first && seq <= p.seq.last; {
			v := b.Get(indexKey(p.name, seq))
			if len(v) != 8 {
				return nil // the run shrank under retention: nothing older left
			}
			id := keyID(v)
			if more, err := fn(id, evb.Get(idKey(id))); err != nil || !more {
				return err
			}
			if desc {
				seq--
			} else {
				seq++
			}
		}
	case srcTime:
		for i := start; i < uint64(len(p.ids)); {
			id := p.ids[i]
			if more, err := fn(id, evb.Get(idKey(id))); err != nil || !more {
				return err
			}
			if desc {
				if i == 0 {
					break
				}
				i--
			} else {
				i++
			}
		}
	}
	return nil
}

func step(c *bolt.Cursor, desc bool) ([]byte, []byte) {
	if desc {
		return c.Prev()
	}
	return c.Next()
}

// first and last positions of p, for walks over all candidates.
func (p *plan) bounds() (first, last uint64, ok bool) {
	if p.kind == srcTime {
		if len(p.ids) == 0 {
			return 0, 0, false
		}
		return 0, uint64(len(p.ids) - 1), true
	}
	if p.seq.size() == 0 {
		return 0, 0, false
	}
	return p.seq.first, p.seq.last, true
}
