package stats

import (
	"testing"
	"time"
)

func TestComputeRates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := Reading{Time: t0, NetRx: 1000, NetTx: 50, BlockRead: 0, BlockWrite: 4096}
	cur := Reading{Time: t0.Add(10 * time.Second), NetRx: 21000, NetTx: 10, BlockRead: 100, BlockWrite: 4096}
	got := ComputeRates(prev, cur)
	want := Rates{NetRx: 2000, NetTx: 0, BlockRead: 10, BlockWrite: 0} // NetTx went back: a restart
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if r := ComputeRates(cur, cur); r != (Rates{}) {
		t.Errorf("no time elapsed: got %+v, want zeros", r)
	}
}

func TestHealthOfListingStatus(t *testing.T) {
	for status, want := range map[string]string{
		"Up 2 minutes (healthy)":          "healthy",
		"Up 5 seconds (health: starting)": "starting",
		"Up 1 hour (unhealthy)":           "unhealthy",
		"Up 1 hour":                       "",
		"Exited (0) 2 minutes ago":        "",
	} {
		if got := healthOf(status); got != want {
			t.Errorf("%q: got %q, want %q", status, got, want)
		}
	}
}
