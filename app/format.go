package main

import (
	"math"
	"strconv"
	"time"
)

// fmtPercent prints a percentage as `docker stats` does: two decimals.
func fmtPercent(v float64) string {
	return strconv.FormatFloat(v, 'f', 2, 64) + " %"
}

// fmtBytes prints a size in binary units: "12.3 MiB".
func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + string("KMGTPE"[i]) + "iB"
}

// fmtRate prints a byte rate: "0 B/s", "1.5 MiB/s".
func fmtRate(v float64) string { return fmtBytes(uint64(math.Max(0, math.Round(v)))) + "/s" }

// fmtClock is a time in the user's zone (the browser's, which Go's wasm
// runtime uses as time.Local): the time of day for today, else the date too.
func fmtClock(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

// fmtAgo is a duration back from now in words: "3 min ago".
func fmtAgo(t, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
	}
}

// shortID is the 12-character form of a container id, as docker ps prints it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// stateClass is the badge colour of a container or host state.
func stateClass(state string) string {
	switch state {
	case "running", "connected", "deployed", "healthy", "live":
		return "badge badge-ok"
	case "exited", "dead", "unreachable", "error", "failed", "unhealthy", "removed":
		return "badge badge-bad"
	case "paused", "restarting", "connecting", "pending", "created", "stopped", "partial",
		"creating", "deploying", "starting", "stopping", "restarting-stack", "pulling-images", "removing":
		return "badge badge-warn"
	default:
		return "badge"
	}
}

// itoa is strconv.Itoa, short for the many counts pages print.
func itoa(n int) string { return strconv.Itoa(n) }
