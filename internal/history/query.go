package history

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// QueryContainer answers a container's history over r. ref is a full ID,
// a name or an ID prefix (see resolve), on host or, with host empty, on
// any engine; removed containers are found as long as their history is
// kept. ErrNotFound or ErrAmbiguous when ref names none or several.
func (s *Store) QueryContainer(ctx context.Context, host, ref string, r Range) (wire.StatsHistory, error) {
	s.mu.RLock()
	sr, err := s.resolve(host, ref)
	s.mu.RUnlock()
	if err != nil {
		return wire.StatsHistory{}, err
	}
	return s.query(ctx, sr, r)
}

// QueryHost answers an engine's aggregate over r: per step, the sums over
// its containers. An engine without history (unknown, or with nothing
// sampled yet) has no points; checking the name is the caller's job.
func (s *Store) QueryHost(ctx context.Context, host string, r Range) (wire.StatsHistory, error) {
	s.mu.RLock()
	sr, ok := s.series[seriesKey{host, ""}]
	s.mu.RUnlock()
	if !ok {
		return wire.StatsHistory{Host: host, From: r.From, To: r.To,
			Resolution: int64(s.tiers[0].Resolution / time.Second), Points: []wire.StatsPoint{}}, nil
	}
	return s.query(ctx, *sr, r)
}

// query reads a series over r from the tier chooseTier picks.
func (s *Store) query(ctx context.Context, sr series, r Range) (wire.StatsHistory, error) {
	k, ok := chooseTier(s.tiers, r.From, r.To, s.now())
	if !ok {
		return wire.StatsHistory{}, &RangeError{fmt.Sprintf("the range starts %s, beyond the retention of %s",
			r.From.Format(time.RFC3339), days(s.Retention()))}
	}
	res := int64(s.tiers[k].Resolution / time.Second)
	from, to := r.From.Unix(), r.To.Unix()
	from -= from % res
	var pts []point
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		pts, err = s.read(tx, k, sr.sid, from, to)
		return err
	})
	if err != nil {
		return wire.StatsHistory{}, fmt.Errorf("history: reading series %d: %w", sr.sid, err)
	}
	if err := ctx.Err(); err != nil {
		return wire.StatsHistory{}, err
	}
	out := wire.StatsHistory{Host: sr.Host, ID: sr.ID, Name: sr.Name, Image: sr.Image,
		From: r.From.UTC(), To: r.To.UTC(), Resolution: res, Points: make([]wire.StatsPoint, len(pts))}
	for i, p := range pts {
		out.Points[i] = p.wire()
	}
	return out, nil
}

// read returns a series' points of tier k over [from, to]: the stored
// ones up to the tier's watermark, then the steps not rolled up yet (the
// current one, and any a stop interrupted) computed from the tier below,
// so a coarse chart reaches the present.
func (s *Store) read(tx *bolt.Tx, k int, sid uint32, from, to int64) ([]point, error) {
	b := tx.Bucket(tierBucket(s.tiers[k]))
	res := int64(s.tiers[k].Resolution / time.Second)
	if k == 0 {
		return scan(b, sid, from, to, res)
	}
	wm := getUint(tx, watermarkKey(s.tiers[k]))
	pts, err := scan(b, sid, from, min(to, wm-1), res)
	if err != nil || wm > to {
		return pts, err
	}
	finer, err := s.read(tx, k-1, sid, max(from, wm), to)
	if err != nil {
		return nil, err
	}
	return append(pts, downsample(finer, res)...), nil
}
