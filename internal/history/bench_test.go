package history

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/stats"
)

// busy is a sample with figures that vary like a real container's, so the
// varints are not all one byte.
func busy(rng *rand.Rand, i int) stats.Sample {
	s := sample("local", fmt.Sprintf("%064x", i), fmt.Sprintf("c%d", i), rng.Float64()*30, uint64(50+rng.IntN(200))<<20)
	s.Usage.MemoryPercent = rng.Float64() * 20
	s.Rates = stats.Rates{NetRx: rng.Float64() * 5e4, NetTx: rng.Float64() * 2e4, BlockRead: rng.Float64() * 1e3, BlockWrite: rng.Float64() * 1e4}
	return s
}

// tierBytes is the bytes each tier's pages hold in use.
func tierBytes(b *testing.B, s *Store) []int {
	var out []int
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, t := range s.tiers {
			st := tx.Bucket(tierBucket(t)).Stats()
			out = append(out, st.LeafInuse+st.BranchInuse)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkBytesPerContainerDay records whole days of 10 s rounds of 20
// containers (one day per iteration) and reports the bytes one container's
// day takes in each tier and in all, and what one container holds once
// every tier is full (24 h of 10 s, 7 days of 1 min, 30 days of 10 min).
func BenchmarkBytesPerContainerDay(b *testing.B) {
	const containers = 20
	c := &clock{}
	s, _ := openTest(b, c, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	samples := func(time.Time) []stats.Sample {
		out := make([]stats.Sample, containers)
		for i := range out {
			out[i] = busy(rng, i)
		}
		return out
	}
	start := base
	b.ResetTimer()
	for range b.N {
		record(b, s, c, start, start.Add(day), 10*time.Second, samples)
		start = start.Add(day)
	}
	b.StopTimer()
	per := tierBytes(b, s)
	days := float64(b.N)
	if b.N > 1 {
		days = 1 // the finest tier keeps one day only
	}
	fine := float64(per[0]) / containers / days
	minute := float64(per[1]) / containers / float64(b.N)
	tenMin := float64(per[2]) / containers / float64(b.N)
	b.ReportMetric(fine+minute+tenMin, "B/container/day")
	b.ReportMetric(fine, "B/container/day-10s")
	b.ReportMetric(minute, "B/container/day-1m")
	b.ReportMetric(tenMin, "B/container/day-10m")
	b.ReportMetric(fine+7*minute+30*tenMin, "B/container-retained")
}

// BenchmarkRecordRound records one 10 s round of 200 containers per
// iteration (with its share of rollups and retention): the history's part
// of the sampler's cost per container.
func BenchmarkRecordRound(b *testing.B) {
	const containers = 200
	c := &clock{}
	s, _ := openTest(b, c, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	round := make([]stats.Sample, containers)
	for i := range round {
		round[i] = busy(rng, i)
	}
	at := base
	b.ResetTimer()
	for range b.N {
		c.t = at
		if err := s.Record(context.Background(), stats.Round{Time: at, Samples: round}); err != nil {
			b.Fatal(err)
		}
		at = at.Add(10 * time.Second)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/containers/1e3, "µs/container")
}

// BenchmarkQuery30Days queries one of 200 containers over 30 days (the
// 10-minute tier, 4,320 points) in a store holding every tier full, and
// reports the p99 latency (target: under 20 ms).
func BenchmarkQuery30Days(b *testing.B) {
	const containers = 200
	c := &clock{t: base.Add(30 * day)}
	s, _ := openTest(b, c, nil)
	fill(b, s, containers, c.t)
	r, err := s.ParseRange("30d", "", "")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	lat := make([]time.Duration, 0, b.N)
	runtime.GC() // the fill's garbage is not the query's
	b.ResetTimer()
	for range b.N {
		ref := fmt.Sprintf("c%d", rng.IntN(containers))
		t0 := time.Now()
		h, err := s.QueryContainer(context.Background(), "", ref, r)
		lat = append(lat, time.Since(t0))
		if err != nil || len(h.Points) < 4000 {
			b.Fatalf("%s: %d points, %v", ref, len(h.Points), err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1e3, "p99-ms")
}

// fill writes what a store holds after 30 days of 10 s rounds of n
// containers, straight into the tiers (recording 259,200 rounds would take
// too long): 24 h of 10 s points, 7 days of 1 min, 30 days of 10 min, and
// the watermarks at now.
func fill(b *testing.B, s *Store, n int, now time.Time) {
	b.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	end := now.Unix()
	for i := range n {
		smp := busy(rng, i)
		err := s.db.Update(func(tx *bolt.Tx) error {
			s.mu.Lock()
			sr, err := s.seriesFor(tx, seriesKey{smp.Host, smp.ID}, smp.Name, smp.Image, "", "", end)
			s.mu.Unlock()
			if err != nil {
				return err
			}
			for _, tier := range s.tiers {
				bk := tx.Bucket(tierBucket(tier))
				bk.FillPercent = fillPercent
				res := int64(tier.Resolution / time.Second)
				for at := end - int64(tier.Keep/time.Second); at < end; at += res {
					p := pointOf(busy(rng, i), at)
					if err := bk.Put(pointKey(sr.sid, at), p.encode(nil)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, tier := range s.tiers {
			if err := putUint(tx, watermarkKey(tier), end); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
