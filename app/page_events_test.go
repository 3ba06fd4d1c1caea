package main

import (
	"testing"
	"time"
)

func TestStatsHistoryLinkReachesBackToTheEvent(t *testing.T) {
	now := time.Unix(10_000_000, 0)
	cases := []struct {
		ago  time.Duration
		want string
	}{
		{time.Minute, "15m"},
		{20 * time.Minute, "1h"},
		{5 * time.Hour, "6h"},
		{6 * time.Hour, "24h"},
		{3 * 24 * time.Hour, "7d"},
		{40 * 24 * time.Hour, "30d"},
	}
	for _, c := range cases {
		if got := statsHistoryLink("Local host", "abc", now.Add(-c.ago), now); got != "/containers/Local%20host/abc?range="+c.want {
			t.Errorf("%v ago: %s, want range %s", c.ago, got, c.want)
		}
	}
}
