package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parseTime reads a since/until value as Docker's CLI does: Unix seconds
// (with an optional fraction), RFC 3339, or a duration meaning that long
// before now ("10m").
func parseTime(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, ok, err := parseUnixDecimal(v); ok {
		return t, err
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<33 {
			return time.Time{}, fmt.Errorf("%q is out of range", v)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither Unix seconds, RFC 3339 nor a duration", v)
}

// parseUnixDecimal reads "SECONDS[.FRACTION]" exactly, to the nanosecond:
// a float64 holds only about 16 digits, so today's seconds with nine
// decimals would be rounded by up to a few hundred nanoseconds, and a
// resume point such as the logs socket's "since=<last line + 1ns>" could
// land before the last line sent and repeat it. ok is false for other forms
// (exponents, signs), which the float parse then handles.
func parseUnixDecimal(v string) (t time.Time, ok bool, err error) {
	secs, frac, _ := strings.Cut(v, ".")
	if secs == "" || len(frac) > 9 || !allDigits(secs) || !allDigits(frac) {
		return time.Time{}, false, nil
	}
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec > 1<<33 {
		return time.Time{}, true, fmt.Errorf("%q is out of range", v)
	}
	nsec := int64(0)
	if frac != "" {
		nsec, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64) // nine digits at most: cannot fail
	}
	return time.Unix(sec, nsec).UTC(), true, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
