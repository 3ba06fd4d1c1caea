package alerts

import (
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// window is the timing state of one rule for one container: how long its
// condition has held (for), its recent matches (count within) and its last
// firing (cooldown).
type window struct {
	rule    *Rule       // the compiled rule the state belongs to
	since   time.Time   // for: when the condition began to hold; zero when it does not
	episode bool        // for: this holding already fired, wait until it stops holding
	hits    []time.Time // count: match times inside within
	fired   time.Time   // the last firing
	pending wire.Alert  // for: the alert a tick fires once the condition held long enough
}

// observe feeds one evaluation of the condition at now and reports whether
// the rule fires.
func (w *window) observe(r *Rule, holds bool, now time.Time) bool {
	switch {
	case r.For > 0:
		if !holds {
			w.since, w.episode = time.Time{}, false
			return false
		}
		if w.since.IsZero() {
			w.since = now
		}
		return w.due(r, now)
	case r.Count > 0:
		if !holds {
			return false
		}
		w.hits = append(w.hits, now)
		cut := 0
		for cut < len(w.hits) && now.Sub(w.hits[cut]) >= time.Duration(r.Within) {
			cut++
		}
		w.hits = w.hits[cut:]
		if len(w.hits) < r.Count || w.cooling(r, now) {
			return false
		}
		w.hits = w.hits[:0]
		w.fired = now
		return true
	default:
		if !holds || w.cooling(r, now) {
			return false
		}
		w.fired = now
		return true
	}
}

// due reports whether a held condition of a "for" rule fires at now: once
// per holding, after For, outside the cooldown.
func (w *window) due(r *Rule, now time.Time) bool {
	if w.since.IsZero() || w.episode || now.Sub(w.since) < time.Duration(r.For) || w.cooling(r, now) {
		return false
	}
	w.episode, w.fired = true, now
	return true
}

// cooling reports whether now is within the cooldown of the last firing.
func (w *window) cooling(r *Rule, now time.Time) bool {
	return !w.fired.IsZero() && now.Sub(w.fired) < time.Duration(r.Cooldown)
}
