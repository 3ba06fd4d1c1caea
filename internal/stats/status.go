package stats

import (
	"fmt"
	"time"
)

// statusText is the engine's human status ("Up 2 hours", "Exited (0) 3
// minutes ago"), recomputed at send time from the start and finish times so
// it does not go stale between listings; without them, the listing's text.
func statusText(ct *containerInfo, now time.Time) string {
	switch ct.State {
	case "running", "paused":
		if ct.StartedAt.IsZero() {
			return ct.Status
		}
		s := "Up " + humanDuration(now.Sub(ct.StartedAt))
		if ct.State == "paused" {
			s += " (Paused)"
		}
		return s
	case "exited":
		if ct.FinishedAt.IsZero() {
			return ct.Status
		}
		return fmt.Sprintf("Exited (%d) %s ago", ct.ExitCode, humanDuration(now.Sub(ct.FinishedAt)))
	case "created":
		return "Created"
	}
	return ct.Status
}

// humanDuration words a duration the way the docker CLI does in its status
// column: coarse, with "About" for the awkward in-betweens.
func humanDuration(d time.Duration) string {
	s := int(d.Seconds())
	switch {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	m := int(d.Minutes())
	switch {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	h := int(d.Round(time.Hour).Hours())
	switch {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", h/24/365)
}
