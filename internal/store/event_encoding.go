package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Record layout (a compact binary form rather than JSON, so that compound
// filters can check tags and type without parsing the value):
//
//	version   1 byte (recordVersion)
//	ts        8 bytes, Unix nanoseconds (two's complement, big-endian)
//	maxTs     8 bytes, the largest ts of any event with an id <= this one
//	type      uvarint length + bytes
//	ntags     uvarint, then each tag as uvarint length + bytes
//	value     the remaining bytes (compact JSON)
//
// maxTs is a running maximum in id order. It is non-decreasing, so a binary
// search over ids finds the first event that can satisfy a lower time bound
// (every earlier event is older than the bound): Scan and Query start there
// instead of at the oldest id.
const recordVersion = 1

const recordHeader = 1 + 8 + 8

var errCorrupt = errors.New("store: corrupt record")

func encodeRecord(e wire.Event, maxTs int64) []byte {
	n := recordHeader + binary.MaxVarintLen64*(2+len(e.Tags)) + len(e.Type) + len(e.Value)
	for _, t := range e.Tags {
		n += len(t)
	}
	b := make([]byte, recordHeader, n)
	b[0] = recordVersion
	binary.BigEndian.PutUint64(b[1:], uint64(e.Timestamp.UnixNano()))
	binary.BigEndian.PutUint64(b[9:], uint64(maxTs))
	b = binary.AppendUvarint(b, uint64(len(e.Type)))
	b = append(b, e.Type...)
	b = binary.AppendUvarint(b, uint64(len(e.Tags)))
	for _, t := range e.Tags {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	return append(b, e.Value...)
}

// record is a decoded view of a stored record. Its byte slices point into
// bbolt's memory and are only valid inside the transaction that read them;
// event() copies.
type record struct {
	ts    int64
	maxTs int64
	typ   []byte
	tags  [][]byte
	value []byte
}

func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) < recordHeader || b[0] != recordVersion {
		return r, errCorrupt
	}
	r.ts = int64(binary.BigEndian.Uint64(b[1:]))
	r.maxTs = int64(binary.BigEndian.Uint64(b[9:]))
	rest := b[recordHeader:]
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < n {
			return nil, false
		}
		s := rest[k : k+int(n)]
		rest = rest[k+int(n):]
		return s, true
	}
	var ok bool
	if r.typ, ok = next(); !ok {
		return r, errCorrupt
	}
	nt, k := binary.Uvarint(rest)
	if k <= 0 || nt > uint64(len(rest)) {
		return r, errCorrupt
	}
	rest = rest[k:]
	r.tags = make([][]byte, 0, nt)
	for i := uint64(0); i < nt; i++ {
		t, ok := next()
		if !ok {
			return r, errCorrupt
		}
		r.tags = append(r.tags, t)
	}
	r.value = rest
	return r, nil
}

// recordMaxTs reads only the running maximum, for the binary search.
func recordMaxTs(b []byte) (int64, error) {
	if len(b) < recordHeader || b[0] != recordVersion {
		return 0, errCorrupt
	}
	return int64(binary.BigEndian.Uint64(b[9:])), nil
}

func (r record) event(id uint64) wire.Event {
	e := wire.Event{
		ID:        id,
		Type:      string(r.typ),
		Timestamp: time.Unix(0, r.ts).UTC(),
		Tags:      make([]string, len(r.tags)),
		Value:     append([]byte(nil), r.value...),
	}
	for i, t := range r.tags {
		e.Tags[i] = string(t)
	}
	return e
}

func (r record) hasTag(t string) bool {
	for _, x := range r.tags {
		if string(x) == t {
			return true
		}
	}
	return false
}

// match is Filter.Match on the undecoded view; tags are expected distinct.
func (r record) match(f *Filter, tlo, thi int64) bool {
	if f.Type != "" && string(r.typ) != f.Type {
		return false
	}
	for _, t := range f.Tags {
		if !r.hasTag(t) {
			return false
		}
	}
	return r.ts >= tlo && r.ts <= thi
}

// Keys. Ids and sequence numbers are big-endian so that bbolt's byte order is
// numeric order.

func idKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), id)
}

func keyID(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// timeKey orders by timestamp then id; flipping the sign bit makes negative
// (pre-1970) timestamps sort before positive ones.
func timeKey(ts int64, id uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(ts)^(1<<63))
	binary.BigEndian.PutUint64(k[8:], id)
	return k
}

func timeKeyParts(k []byte) (ts int64, id uint64, err error) {
	if len(k) != 16 {
		return 0, 0, fmt.Errorf("store: time index key of %d bytes: %w", len(k), errCorrupt)
	}
	return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)), binary.BigEndian.Uint64(k[8:]), nil
}
