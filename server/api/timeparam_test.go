package api

import (
	"fmt"
	"testing"
	"time"
)

// TestParseTimeKeepsNanoseconds: a since of "seconds.nanoseconds" is taken
// to the nanosecond. Parsed as a float it was off by up to a few hundred
// nanoseconds, so "since = last line + 1 ns", the resume point the logs
// socket itself suggests, could land before the last line and repeat it.
func TestParseTimeKeepsNanoseconds(t *testing.T) {
	for _, v := range []string{"1767225600.123456789", "1767225600.000000001", "1767225600.999999999"} {
		got, err := parseTime(v, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if s := unixNano(got); s != v {
			t.Errorf("parseTime(%s) = %s", v, s)
		}
	}
	for v, want := range map[string]string{"1767225600": "1767225600.000000000", "1767225600.5": "1767225600.500000000", "1.5e9": "1500000000.000000000"} {
		got, err := parseTime(v, time.Now())
		if err != nil || unixNano(got) != want {
			t.Errorf("parseTime(%s) = %s, %v; want %s", v, unixNano(got), err, want)
		}
	}
	for _, v := range []string{"99999999999999999999.1", "-5"} {
		if got, err := parseTime(v, time.Now()); err == nil {
			t.Errorf("parseTime(%s) = %v, want an error", v, got)
		}
	}
}

// unixNano formats t as the engine's and crowsnest's "seconds.nanoseconds".
func unixNano(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}
