package history

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// query parses rng at the store's clock and queries container ref.
func query(t *testing.T, s *Store, ref, rng string) wire.StatsHistory {
	t.Helper()
	r, err := s.ParseRange(rng, "", "")
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.QueryContainer(context.Background(), "", ref, r)
	if err != nil {
		t.Fatalf("%s over %s: %v", ref, rng, err)
	}
	return h
}

func TestQueryChoosesResolutionKeepsGapsAndReachesThePresent(t *testing.T) {
	c := &clock{}
	s, _ := openTest(t, c, nil)
	down, up := base.Add(time.Hour), base.Add(time.Hour+10*time.Minute) // crowsnest not running
	end := base.Add(3*time.Hour + 25*time.Minute + 30*time.Second)
	one := func(time.Time) []stats.Sample { return []stats.Sample{sample("local", "c1", "burner", 50, 64<<20)} }
	record(t, s, c, base, down, 10*time.Second, one)
	record(t, s, c, up, end, 10*time.Second, one)
	last := c.t

	for _, tc := range []struct {
		rng  string
		res  int64
		span time.Duration
	}{{"15m", 10, 15 * time.Minute}, {"1h", 60, time.Hour}, {"6h", 60, 6 * time.Hour}, {"24h", 600, 24 * time.Hour}} {
		h := query(t, s, "burner", tc.rng)
		if h.Resolution != tc.res {
			t.Errorf("%s: resolution %d, want %d", tc.rng, h.Resolution, tc.res)
		}
		if len(h.Points) == 0 {
			t.Fatalf("%s: no points", tc.rng)
		}
		for _, p := range h.Points {
			if math.Abs(p.CPU-50) > 0.01 || p.MemoryBytes != 64<<20 || p.NetRx != 1000 {
				t.Fatalf("%s: point %+v, want cpu 50, 64 MiB, 1000 B/s received", tc.rng, p)
			}
		}
		// The last point is the step holding the latest round, even where
		// the tier has not rolled it up yet.
		lastStep := last.Unix() - last.Unix()%tc.res
		if got := h.Points[len(h.Points)-1].T.Unix(); got != lastStep {
			t.Errorf("%s: last point at %v, want %v", tc.rng, time.Unix(got, 0).UTC(), time.Unix(lastStep, 0).UTC())
		}
		for i := 1; i < len(h.Points); i++ {
			if d := h.Points[i].T.Sub(h.Points[i-1].T); d < time.Duration(tc.res)*time.Second {
				t.Fatalf("%s: points %v and %v closer than the resolution", tc.rng, h.Points[i-1].T, h.Points[i].T)
			}
		}
	}
	// The 6h chart has a hole where crowsnest was stopped, and nowhere else.
	h := query(t, s, "burner", "6h")
	var holes []time.Time
	for i := 1; i < len(h.Points); i++ {
		if h.Points[i].T.Sub(h.Points[i-1].T) > time.Minute {
			holes = append(holes, h.Points[i-1].T)
		}
	}
	if len(holes) != 1 || !holes[0].Equal(down.Add(-time.Minute)) {
		t.Errorf("gaps after %v, want one after %v", holes, down.Add(-time.Minute))
	}
	if want := int((end.Sub(base) - up.Sub(down)).Minutes()) + 1; len(h.Points) != want {
		t.Errorf("6h: %d points, want %d", len(h.Points), want)
	}
}

func TestHostAggregateSumsContainers(t *testing.T) {
	c := &clock{}
	s, _ := openTest(t, c, nil)
	record(t, s, c, base, base.Add(5*time.Minute), 10*time.Second, func(time.Time) []stats.Sample {
		return []stats.Sample{sample("local", "c1", "a", 30, 100<<20), sample("local", "c2", "b", 70, 100<<20), sample("other", "c3", "c", 5, 1<<20)}
	})
	r, err := s.ParseRange("15m", "", "")
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.QueryHost(context.Background(), "local", r)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Points) != 30 {
		t.Fatalf("%d points, want 30", len(h.Points))
	}
	p := h.Points[0]
	if math.Abs(p.CPU-100) > 0.01 || p.MemoryBytes != 200<<20 || math.Abs(p.Memory-200.0/1024*100) > 0.01 || p.NetRx != 2000 {
		t.Errorf("host point %+v, want cpu 100, 200 MiB = 19.53 %% of 1 GiB, 2000 B/s", p)
	}
	none, err := s.QueryHost(context.Background(), "nowhere", r)
	if err != nil || none.Points == nil || len(none.Points) != 0 {
		t.Errorf("a host without history: %+v, %v; want no points", none, err)
	}
}

func TestRemovedContainersAreFoundByIDPrefixAndNameAfterReopening(t *testing.T) {
	c := &clock{}
	s, path := openTest(t, c, nil)
	first := func(time.Time) []stats.Sample { return []stats.Sample{sample("local", "abc123", "web", 10, 1<<20)} }
	second := func(time.Time) []stats.Sample { return []stats.Sample{sample("local", "abd456", "web", 20, 1<<20)} }
	record(t, s, c, base, base.Add(10*time.Minute), 10*time.Second, first)
	record(t, s, c, base.Add(10*time.Minute), base.Add(20*time.Minute), 10*time.Second, second)
	record(t, s, c, base.Add(20*time.Minute), base.Add(30*time.Minute), 10*time.Second, func(time.Time) []stats.Sample { return nil })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{Now: c.now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	for ref, wantID := range map[string]string{"abc123": "abc123", "abc": "abc123", "abd4": "abd456", "web": "abd456", "/web": "abd456"} {
		h := query(t, s, ref, "1h")
		if h.ID != wantID || h.Name != "web" || h.Image != "img:web" {
			t.Errorf("%s: found %s (%s, %s), want %s", ref, h.ID, h.Name, h.Image, wantID)
		}
		if len(h.Points) != 10 {
			t.Errorf("%s: %d points, want 10 minutes", ref, len(h.Points))
		}
	}
	r, _ := s.ParseRange("1h", "", "")
	if _, err := s.QueryContainer(context.Background(), "", "ab", r); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("ab: %v, want ErrAmbiguous", err)
	}
	if _, err := s.QueryContainer(context.Background(), "", "nope", r); !errors.Is(err, ErrNotFound) {
		t.Errorf("nope: %v, want ErrNotFound", err)
	}
	if _, err := s.QueryContainer(context.Background(), "other", "web", r); !errors.Is(err, ErrNotFound) {
		t.Errorf("web on another host: %v, want ErrNotFound", err)
	}
}

func TestRetentionDeletesWhatIsOlder(t *testing.T) {
	tiers := []Tier{{10 * time.Second, 2 * time.Minute}, {time.Minute, 10 * time.Minute}, {10 * time.Minute, time.Hour}}
	c := &clock{}
	s, _ := openTest(t, c, tiers)
	record(t, s, c, base, base.Add(20*time.Minute), 10*time.Second, func(time.Time) []stats.Sample {
		return []stats.Sample{sample("local", "gone", "old", 10, 1<<20), sample("local", "stay", "new", 10, 1<<20)}
	})
	// The last round is on a 10-minute boundary, when retention runs.
	record(t, s, c, base.Add(20*time.Minute), base.Add(90*time.Minute+time.Second), 10*time.Second, func(time.Time) []stats.Sample {
		return []stats.Sample{sample("local", "stay", "new", 10, 1<<20)}
	})
	now := c.t.Unix()
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, tier := range tiers {
			oldest, n := int64(math.MaxInt64), 0
			_ = tx.Bucket(tierBucket(tier)).ForEach(func(k, _ []byte) error {
				_, at := splitKey(k)
				oldest, n = min(oldest, at), n+1
				return nil
			})
			if limit := now - int64(tier.Keep/time.Second); oldest < limit {
				t.Errorf("tier %v: a point of %v, older than its keep %v", tier.Resolution, time.Unix(oldest, 0).UTC(), tier.Keep)
			}
			if n == 0 {
				t.Errorf("tier %v: everything deleted", tier.Resolution)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := Range{From: c.t.Add(-time.Hour), To: c.t}
	if _, err := s.QueryContainer(context.Background(), "", "old", r); !errors.Is(err, ErrNotFound) {
		t.Errorf("a container gone for longer than the retention: %v, want ErrNotFound", err)
	}
	if h, err := s.QueryContainer(context.Background(), "", "new", r); err != nil || len(h.Points) == 0 {
		t.Errorf("the running container: %d points, %v", len(h.Points), err)
	}
}

func TestRecordRefusesAnOlderRound(t *testing.T) {
	c := &clock{}
	s, _ := openTest(t, c, nil)
	record(t, s, c, base, base.Add(time.Minute), 10*time.Second, func(time.Time) []stats.Sample { return nil })
	if err := s.Record(context.Background(), stats.Round{Time: base}); err == nil {
		t.Error("a round older than the last one was recorded")
	}
}
