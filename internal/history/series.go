package history

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// seriesKey names a series: a container of an engine, or with ID empty
// the engine's aggregate.
type seriesKey struct{ host, id string }

// series is one stored series and what is known of its container. The
// index of every series lives in memory (loaded at Open), so a removed
// container is found by ID, ID prefix or name without touching the file.
type series struct {
	sid     uint32
	Host    string `json:"host"`
	ID      string `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	Image   string `json:"image,omitempty"`
	Project string `json:"project,omitempty"` // compose project and service
	Service string `json:"service,omitempty"`
	First   int64  `json:"first"` // unix seconds of the first and last rounds seen
	Last    int64  `json:"last"`

	stored int64 // Last as written to the file
}

// lastSlack is how stale the stored Last may get: rewriting each series'
// record every round would double the round's writes, and retention needs
// Last only to the hour.
const lastSlack = 3600

func sidKey(sid uint32) []byte { return binary.BigEndian.AppendUint32(nil, sid) }

// loadSeries reads the index. tx is the open's.
func (s *Store) loadSeries(tx *bolt.Tx) error {
	return tx.Bucket(bucketSeries).ForEach(func(k, v []byte) error {
		if len(k) != 4 {
			return fmt.Errorf("series key %x: want 4 bytes", k)
		}
		sr := &series{sid: binary.BigEndian.Uint32(k)}
		if err := json.Unmarshal(v, sr); err != nil {
			return fmt.Errorf("series %d: %w", sr.sid, err)
		}
		sr.stored = sr.Last
		s.series[seriesKey{sr.Host, sr.ID}] = sr
		s.byID[sr.sid] = sr
		return nil
	})
}

// seriesFor returns the series of k, creating it, and records that it was
// seen at t with the given identity. It writes the record when it is new,
// changed, or its Last is stale. s.mu is held for writing.
func (s *Store) seriesFor(tx *bolt.Tx, k seriesKey, name, image, project, service string, t int64) (*series, error) {
	sr, ok := s.series[k]
	dirty := !ok
	if !ok {
		seq, err := tx.Bucket(bucketSeries).NextSequence()
		if err != nil {
			return nil, err
		}
		if seq > 1<<32-1 {
			return nil, fmt.Errorf("series numbers exhausted")
		}
		sr = &series{sid: uint32(seq), Host: k.host, ID: k.id, First: t}
		s.series[k] = sr
		s.byID[sr.sid] = sr
	}
	if k.id != "" && (sr.Name != name || sr.Image != image || sr.Project != project || sr.Service != service) {
		sr.Name, sr.Image, sr.Project, sr.Service = name, image, project, service
		dirty = true
	}
	sr.Last = max(sr.Last, t)
	if dirty || sr.Last-sr.stored >= lastSlack {
		if err := s.putSeries(tx, sr); err != nil {
			return nil, err
		}
	}
	return sr, nil
}

// putSeries writes a series' record.
func (s *Store) putSeries(tx *bolt.Tx, sr *series) error {
	v, err := json.Marshal(sr)
	if err != nil {
		return fmt.Errorf("series %d: %w", sr.sid, err)
	}
	if err := tx.Bucket(bucketSeries).Put(sidKey(sr.sid), v); err != nil {
		return fmt.Errorf("series %d: %w", sr.sid, err)
	}
	sr.stored = sr.Last
	return nil
}

// resolve finds a container's series as docker finds a container: by full
// ID, then by name (the most recently seen container of that name, since
// a name is reused when a container is recreated), then by unique ID
// prefix. host empty searches every engine. s.mu is held.
func (s *Store) resolve(host, ref string) (series, error) {
	name := strings.TrimPrefix(ref, "/")
	var byName, byPrefix *series
	prefixes := 0
	for k, sr := range s.series {
		if k.id == "" || (host != "" && k.host != host) {
			continue
		}
		switch {
		case k.id == ref:
			return *sr, nil
		case sr.Name == name:
			if byName == nil || sr.Last > byName.Last {
				byName = sr
			}
		case ref != "" && strings.HasPrefix(k.id, ref):
			byPrefix = sr
			prefixes++
		}
	}
	switch {
	case byName != nil:
		return *byName, nil
	case prefixes == 1:
		return *byPrefix, nil
	case prefixes > 1:
		return series{}, fmt.Errorf("%q: %w", ref, ErrAmbiguous)
	}
	return series{}, fmt.Errorf("%q: %w", ref, ErrNotFound)
}
