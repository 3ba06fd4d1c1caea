package history

import (
	"fmt"
	"time"
)

// Tier is one resolution of the stored series: points Resolution apart,
// kept for Keep. The finest tier holds the samples themselves; each
// coarser one is rolled up from the tier below it once its steps are
// complete.
type Tier struct {
	Resolution time.Duration
	Keep       time.Duration
}

// Defaults of the tiers and of the sampling cadence.
const (
	DefaultEvery     = 10 * time.Second
	DefaultRetention = 30 * 24 * time.Hour
)

// DefaultTiers are the tiers for a sampling cadence every and a total
// retention: every for 24 h, one minute for 7 days, ten minutes for the
// rest of the retention; a tier is kept no longer than the retention, and
// the coarser tiers that are not coarser than every are left out.
func DefaultTiers(every, retention time.Duration) []Tier {
	if every <= 0 {
		every = DefaultEvery
	}
	if retention <= 0 {
		retention = DefaultRetention
	}
	tiers := []Tier{{Resolution: every, Keep: min(24*time.Hour, retention)}}
	for _, t := range []Tier{{time.Minute, 7 * 24 * time.Hour}, {10 * time.Minute, retention}} {
		if t.Resolution > every {
			tiers = append(tiers, Tier{Resolution: t.Resolution, Keep: min(t.Keep, retention)})
		}
	}
	return tiers
}

// checkTiers makes sure each tier is coarser than the one before, by a
// whole factor (so a step of a coarse tier covers whole steps of the finer
// one), in whole seconds, and kept at least as long.
func checkTiers(tiers []Tier) error {
	if len(tiers) == 0 {
		return fmt.Errorf("history: no tiers")
	}
	for i, t := range tiers {
		if t.Resolution < time.Second || t.Resolution%time.Second != 0 {
			return fmt.Errorf("history: tier %d: resolution %v is not a whole number of seconds", i, t.Resolution)
		}
		if t.Keep < t.Resolution {
			return fmt.Errorf("history: tier %d: kept %v, less than its resolution %v", i, t.Keep, t.Resolution)
		}
		if i == 0 {
			continue
		}
		prev := tiers[i-1]
		if t.Resolution <= prev.Resolution || t.Resolution%prev.Resolution != 0 {
			return fmt.Errorf("history: tier %d: resolution %v is not a multiple of %v", i, t.Resolution, prev.Resolution)
		}
		if t.Keep < prev.Keep {
			return fmt.Errorf("history: tier %d: kept %v, less than the finer tier's %v", i, t.Keep, prev.Keep)
		}
	}
	return nil
}

// MinPoints is "enough points" for a chart: a query is answered from the
// coarsest tier that has at least this many steps in the range asked for
// (counting steps, not stored points, so the choice does not depend on
// when a container started), or from the finest tier that still covers the
// range when none has as many.
const MinPoints = 60

// chooseTier picks the tier for [from, to] at now, per MinPoints; ok is
// false when no tier keeps points as old as from.
func chooseTier(tiers []Tier, from, to, now time.Time) (int, bool) {
	best := -1
	for i, t := range tiers {
		// One step of slack: a range parsed a moment before the query
		// (range=30d) still counts as covered by a 30-day tier.
		if from.Before(now.Add(-t.Keep - t.Resolution)) {
			continue // expired there
		}
		if best == -1 {
			best = i // the finest covering tier: the fallback
		}
		if to.Sub(from)/t.Resolution >= MinPoints {
			best = i
		}
	}
	return best, best != -1
}
