package history

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	now := base
	iso := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	cases := []struct {
		name             string
		rng, from, to    string
		wantFrom, wantTo time.Time
		wantErr          string // part of the reason; "" for success
	}{
		{name: "default", wantFrom: now.Add(-time.Hour), wantTo: now},
		{name: "15m", rng: "15m", wantFrom: now.Add(-15 * time.Minute), wantTo: now},
		{name: "30d", rng: "30d", wantFrom: now.Add(-30 * day), wantTo: now},
		{name: "from only", from: iso(-2 * time.Hour), wantFrom: now.Add(-2 * time.Hour), wantTo: now},
		{name: "from and to", from: iso(-3 * day), to: iso(-2 * day), wantFrom: now.Add(-3 * day), wantTo: now.Add(-2 * day)},
		{name: "unix seconds", from: strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), wantFrom: now.Add(-time.Hour), wantTo: now},
		{name: "unknown range", rng: "2w", wantErr: `unknown range "2w"`},
		{name: "both forms", rng: "1h", from: iso(-time.Hour), wantErr: "not both"},
		{name: "to without from", to: iso(0), wantErr: "to needs a from"},
		{name: "from after to", from: iso(-time.Hour), to: iso(-2 * time.Hour), wantErr: "is not before to"},
		{name: "from equals to", from: iso(-time.Hour), to: iso(-time.Hour), wantErr: "is not before to"},
		{name: "bad time", from: "yesterday", wantErr: `from "yesterday"`},
		{name: "beyond retention", from: iso(-31 * day), wantErr: "beyond the retention of 30d"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := parseRange(c.rng, c.from, c.to, now, 30*day)
			if c.wantErr != "" {
				var re *RangeError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, c.wantErr) {
					t.Fatalf("got %v, want a RangeError saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !r.From.Equal(c.wantFrom) || !r.To.Equal(c.wantTo) {
				t.Errorf("got %v – %v, want %v – %v", r.From, r.To, c.wantFrom, c.wantTo)
			}
		})
	}
	if _, err := parseRange("30d", "", "", now, 7*day); err == nil {
		t.Error("range=30d with a 7-day retention was accepted")
	}
}
