package history

import (
	"testing"
	"time"
)

const day = 24 * time.Hour

func TestDefaultTiers(t *testing.T) {
	got := DefaultTiers(0, 0)
	want := []Tier{{10 * time.Second, day}, {time.Minute, 7 * day}, {10 * time.Minute, 30 * day}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("tier %d: got %v, want %v", i, got[i], want[i])
		}
	}
	short := DefaultTiers(time.Minute, 3*day)
	if len(short) != 2 || short[0] != (Tier{time.Minute, day}) || short[1] != (Tier{10 * time.Minute, 3 * day}) {
		t.Errorf("every 1m, 3 days: got %v", short)
	}
	if err := checkTiers(short); err != nil {
		t.Error(err)
	}
}

func TestCheckTiersRefusesInconsistentTiers(t *testing.T) {
	for name, tiers := range map[string][]Tier{
		"none":              nil,
		"fraction of a sec": {{1500 * time.Millisecond, time.Hour}},
		"not a multiple":    {{10 * time.Second, day}, {25 * time.Second, 2 * day}},
		"kept shorter":      {{10 * time.Second, 2 * day}, {time.Minute, day}},
		"keep < resolution": {{time.Minute, time.Second}},
	} {
		if err := checkTiers(tiers); err == nil {
			t.Errorf("%s: accepted %v", name, tiers)
		}
	}
}

func TestChooseTierTakesTheCoarsestWithEnoughPoints(t *testing.T) {
	tiers := DefaultTiers(0, 0)
	now := base
	cases := []struct {
		name     string
		from, to time.Time
		want     time.Duration // resolution; 0: no tier covers
	}{
		{"15m", now.Add(-15 * time.Minute), now, 10 * time.Second},
		{"1h", now.Add(-time.Hour), now, time.Minute},
		{"6h", now.Add(-6 * time.Hour), now, time.Minute},
		{"24h", now.Add(-day), now, 10 * time.Minute},
		{"7d", now.Add(-7 * day), now, 10 * time.Minute},
		{"30d", now.Add(-30 * day), now, 10 * time.Minute},
		{"5m", now.Add(-5 * time.Minute), now, 10 * time.Second},
		{"1h three days ago", now.Add(-3 * day), now.Add(-3*day + time.Hour), time.Minute},
		{"30m ten days ago: only 10m kept", now.Add(-10 * day), now.Add(-10*day + 30*time.Minute), 10 * time.Minute},
		{"beyond retention", now.Add(-31 * day), now, 0},
	}
	for _, c := range cases {
		k, ok := chooseTier(tiers, c.from, c.to, now)
		var got time.Duration
		if ok {
			got = tiers[k].Resolution
		}
		if got != c.want {
			t.Errorf("%s: resolution %v, want %v", c.name, got, c.want)
		}
	}
}
