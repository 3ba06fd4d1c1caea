package main

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
