package history

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/stats"
)

// Compose labels, for the series' project and service.
const (
	labelProject = "com.docker.compose.project"
	labelService = "com.docker.compose.service"
)

// fillPercent packs pages fully: points are appended at the end of each
// series, so a page rarely takes an insert in its middle after it fills.
const fillPercent = 0.95

// Record stores one sampling round in one commit: a point per sample at
// the round's time (the start of its step in the finest tier), the
// engines' aggregates, the rollups of the coarser steps the round
// completes and, every coarsest step, the deletion of what retention
// ended. Rounds must come in time order; one older than the last is
// refused.
func (s *Store) Record(_ context.Context, r stats.Round) error {
	res := int64(s.tiers[0].Resolution / time.Second)
	t := r.Time.Unix()
	t -= t % res
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if last := getUint(tx, watermarkKey(s.tiers[0])); t < last {
			return fmt.Errorf("round of %v is older than the last one recorded", r.Time)
		}
		if err := s.writeRound(tx, r, t); err != nil {
			return err
		}
		if err := putUint(tx, watermarkKey(s.tiers[0]), t); err != nil {
			return err
		}
		if err := s.rollup(tx, t); err != nil {
			return err
		}
		coarsest := int64(s.tiers[len(s.tiers)-1].Resolution / time.Second)
		if t%coarsest == 0 || !s.expiredOnce {
			s.expiredOnce = true
			return s.expire(tx, t)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("history: recording the round of %v: %w", r.Time, err)
	}
	return nil
}

// writeRound puts the round's points in the finest tier. Each value gets
// its own slice: bbolt keeps what Put is given until the commit.
func (s *Store) writeRound(tx *bolt.Tx, r stats.Round, t int64) error {
	b := tx.Bucket(tierBucket(s.tiers[0]))
	b.FillPercent = fillPercent
	hosts := map[string]*point{}
	var order []string
	for _, smp := range r.Samples {
		sr, err := s.seriesFor(tx, seriesKey{smp.Host, smp.ID}, smp.Name, smp.Image,
			smp.Labels[labelProject], smp.Labels[labelService], t)
		if err != nil {
			return err
		}
		p := pointOf(smp, t)
		if err := b.Put(pointKey(sr.sid, t), p.encode(nil)); err != nil {
			return err
		}
		h := hosts[smp.Host]
		if h == nil {
			h = &point{t: t}
			hosts[smp.Host] = h
			order = append(order, smp.Host)
		}
		h.add(p)
	}
	for _, host := range order {
		h := hosts[host]
		h.mem = 0
		if mem := r.HostMemory[host]; mem > 0 {
			h.mem = h.memBytes / float64(mem) * 100
		}
		sr, err := s.seriesFor(tx, seriesKey{host, ""}, "", "", "", "", t)
		if err != nil {
			return err
		}
		if err := b.Put(pointKey(sr.sid, t), h.encode(nil)); err != nil {
			return err
		}
	}
	return nil
}

// pointOf is a sample's point.
func pointOf(smp stats.Sample, t int64) point {
	return point{
		t: t, cpu: smp.Usage.CPUPercent, mem: smp.Usage.MemoryPercent, memBytes: float64(smp.Usage.MemoryBytes),
		netRx: smp.Rates.NetRx, netTx: smp.Rates.NetTx, blkR: smp.Rates.BlockRead, blkW: smp.Rates.BlockWrite,
	}
}

// rollup fills each coarser tier with the steps completed by a round at
// t, from the tier below, and advances the tier's watermark (the start of
// its first step not rolled up yet). Tiers go finest first, so each reads
// a tier already complete up to where it needs.
func (s *Store) rollup(tx *bolt.Tx, t int64) error {
	for k := 1; k < len(s.tiers); k++ {
		res := int64(s.tiers[k].Resolution / time.Second)
		done := t - t%res // steps before it are complete
		wm := getUint(tx, watermarkKey(s.tiers[k]))
		if wm == 0 {
			wm = done // a new store: nothing before this round to roll up
		}
		if wm >= done {
			if err := putUint(tx, watermarkKey(s.tiers[k]), wm); err != nil {
				return err
			}
			continue
		}
		src := tx.Bucket(tierBucket(s.tiers[k-1]))
		dst := tx.Bucket(tierBucket(s.tiers[k]))
		dst.FillPercent = fillPercent
		for sid, sr := range s.byID {
			if sr.Last < wm {
				continue // nothing new: a removed container
			}
			pts, err := scan(src, sid, wm, done-1, int64(s.tiers[k-1].Resolution/time.Second))
			if err != nil {
				return err
			}
			for _, p := range downsample(pts, res) {
				if err := dst.Put(pointKey(sid, p.t), p.encode(nil)); err != nil {
					return err
				}
			}
		}
		if err := putUint(tx, watermarkKey(s.tiers[k]), done); err != nil {
			return err
		}
	}
	return nil
}

// scan reads a series' points of one tier, res seconds apart, with
// from <= t <= to.
func scan(b *bolt.Bucket, sid uint32, from, to, res int64) ([]point, error) {
	var out []point
	if to >= from {
		out = make([]point, 0, (to-from)/res+1)
	}
	c := b.Cursor()
	for k, v := c.Seek(pointKey(sid, max(from, 0))); k != nil; k, v = c.Next() {
		ksid, t := splitKey(k)
		if ksid != sid || t > to {
			break
		}
		p, err := decodePoint(t, v)
		if err != nil {
			return nil, fmt.Errorf("series %d at %d: %w", sid, t, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// watermarkKey names a tier's watermark in the meta bucket: for the
// finest tier the last round recorded, for the others the rollup's.
func watermarkKey(t Tier) []byte { return append([]byte("watermark-"), tierBucket(t)...) }

func getUint(tx *bolt.Tx, k []byte) int64 {
	v := tx.Bucket(bucketMeta).Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putUint(tx *bolt.Tx, k []byte, v int64) error {
	return tx.Bucket(bucketMeta).Put(k, binary.BigEndian.AppendUint64(nil, uint64(v)))
}
