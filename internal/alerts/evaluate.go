package alerts

import (
	"fmt"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// firing is a rule that fired, with the alert to record and deliver.
type firing struct {
	rule  *Rule
	alert wire.Alert
}

// winKey names the window of one rule for one container.
type winKey struct {
	rule int64
	ctr  ctrKey
}

// evaluator decides which rules fire. It does no I/O and reads no clock:
// callers pass the time, so tests drive it with a fake one. It is not safe
// for concurrent use.
type evaluator struct {
	event, log, stats []*Rule // enabled rules by kind
	tracker           *tracker
	windows           map[winKey]*window
	selected          map[ctrKey]selection // log and stats rules selecting a container, cached
	vm                vm.VM                // reused: running a program then allocates nothing
}

func newEvaluator(stopWindow time.Duration) *evaluator {
	return &evaluator{tracker: newTracker(stopWindow), windows: make(map[winKey]*window), selected: make(map[ctrKey]selection)}
}

// setRules replaces the rule set. Windows of rules that changed or went
// away are dropped, so an edited rule starts afresh.
func (e *evaluator) setRules(rules []*Rule) {
	keep := make(map[int64]*Rule, len(rules))
	e.event, e.log, e.stats = nil, nil, nil
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		keep[r.ID] = r
		switch r.Kind {
		case wire.AlertKindEvent:
			e.event = append(e.event, r)
		case wire.AlertKindLog:
			e.log = append(e.log, r)
		case wire.AlertKindStats:
			e.stats = append(e.stats, r)
		}
	}
	for k, w := range e.windows {
		if r := keep[k.rule]; r == nil || w.rule != r {
			delete(e.windows, k)
		}
	}
	clear(e.selected)
}

// window returns the window of r for container c.
func (e *evaluator) window(r *Rule, c ctrKey) *window {
	k := winKey{r.ID, c}
	w := e.windows[k]
	if w == nil {
		w = &window{rule: r}
		e.windows[k] = w
	}
	return w
}

// holds runs r's expression over facts.
func (e *evaluator) holds(r *Rule, facts any) bool {
	out, err := e.vm.Run(r.program, facts)
	if err != nil {
		return false // a runtime error (e.g. a missing label) is no match
	}
	b, _ := out.(bool)
	return b
}

// onEvent evaluates the event rules for ev at now.
func (e *evaluator) onEvent(ev wire.ContainerEvent, now time.Time) []firing {
	if ev.Type != "" && ev.Type != wire.ContainerEventType {
		return nil
	}
	action, _ := bareAction(ev)
	facts := EventFacts{Action: action, Name: ev.Name(), Image: ev.Image()}
	e.tracker.observe(ev, &facts)
	c := ctrKey{ev.Host, eventID(ev)}
	if action == "destroy" {
		defer e.forget(c)
	}
	var out []firing
	for _, r := range e.event {
		if !e.selectsEvent(r, ev) {
			continue
		}
		if facts.Labels == nil {
			facts.Labels = eventLabels(ev.Actor.Attributes)
		}
		w := e.window(r, c)
		holds := e.holds(r, &facts)
		if r.For > 0 && holds {
			w.pending = e.eventAlert(r, ev, &facts)
		}
		if !w.observe(r, holds, now) {
			continue
		}
		if r.For > 0 {
			a := w.pending
			a.Time = now
			out = append(out, firing{r, a})
		} else {
			out = append(out, firing{r, e.eventAlert(r, ev, &facts)})
		}
	}
	return out
}

// selectsEvent applies r's filters: without an "event" key a rule sees
// every action (its expression picks), unlike /events/ws's start and stop.
func (e *evaluator) selectsEvent(r *Rule, ev wire.ContainerEvent) bool {
	if r.filters.HasEvents() {
		return r.filters.Match(ev)
	}
	return r.filters.MatchContainer(ev)
}

func (e *evaluator) eventAlert(r *Rule, ev wire.ContainerEvent, f *EventFacts) wire.Alert {
	msg := fmt.Sprintf("%s: %s %s on %s", r.Name, f.Name, f.Action, ev.Host)
	switch {
	case f.Action == "die":
		msg += fmt.Sprintf(" with exit code %d", f.ExitCode)
		if f.OOMKilled {
			msg += " (out of memory)"
		}
	case f.Health != "":
		msg += " (" + f.Health + ")"
	}
	evc := ev
	return wire.Alert{
		Rule: r.Name, RuleID: r.ID, Host: ev.Host, Kind: r.Kind, Message: msg, Time: eventTime(ev).UTC(),
		Container: wire.AlertContainer{ID: eventID(ev), Name: f.Name, Image: f.Image},
		Event:     &evc,
	}
}

// onLog evaluates the log rules selecting c for one line at now.
func (e *evaluator) onLog(c wire.ContainerSummary, l wire.LogLine, now time.Time) []firing {
	rules := e.selecting(c).log
	if len(rules) == 0 {
		return nil
	}
	facts := LogFacts{Line: l.Line, Stream: l.Stream, Name: c.Name, Image: c.Image, Labels: c.Labels}
	var out []firing
	for _, r := range rules {
		if e.window(r, ctrKey{c.Host, c.ID}).observe(r, e.holds(r, &facts), now) {
			out = append(out, firing{r, containerAlert(r, c, now, fmt.Sprintf("%s: %s on %s: %s", r.Name, c.Name, c.Host, clipLine(l.Line)))})
		}
	}
	return out
}

// onStats evaluates the stats rules selecting c for one sample at now.
func (e *evaluator) onStats(c wire.ContainerSummary, s wire.Stats, now time.Time) []firing {
	rules := e.selecting(c).stats
	if len(rules) == 0 {
		return nil
	}
	facts := StatsFacts{CPU: s.CPUUsage, Memory: s.MemoryUsage, MemoryBytes: float64(s.MemoryBytes), Name: c.Name, Image: c.Image, Labels: c.Labels}
	alert := func(r *Rule) wire.Alert {
		return containerAlert(r, c, now, fmt.Sprintf("%s: %s on %s: CPU %.1f %%, memory %.1f %% (%d MiB)",
			r.Name, c.Name, c.Host, s.CPUUsage, s.MemoryUsage, s.MemoryBytes>>20))
	}
	var out []firing
	for _, r := range rules {
		w := e.window(r, ctrKey{c.Host, c.ID})
		holds := e.holds(r, &facts)
		if r.For > 0 && holds {
			w.pending = alert(r)
		}
		if w.observe(r, holds, now) {
			out = append(out, firing{r, alert(r)})
		}
	}
	return out
}

// tick fires the "for" rules whose condition has held long enough, for
// conditions that no new event or sample re-evaluates (a container stays
// unhealthy without further events).
func (e *evaluator) tick(now time.Time) []firing {
	var out []firing
	for _, w := range e.windows {
		if w.rule.For > 0 && w.due(w.rule, now) {
			a := w.pending
			a.Time = now
			out = append(out, firing{w.rule, a})
		}
	}
	return out
}

// selection is the log and stats rules whose filters select a container.
type selection struct{ log, stats []*Rule }

// selecting returns the log and stats rules selecting container c.
func (e *evaluator) selecting(c wire.ContainerSummary) selection {
	k := ctrKey{c.Host, c.ID}
	if sel, ok := e.selected[k]; ok {
		return sel
	}
	ev := summaryEvent(c)
	var sel selection
	for _, r := range e.log {
		if r.filters.MatchContainer(ev) {
			sel.log = append(sel.log, r)
		}
	}
	for _, r := range e.stats {
		if r.filters.MatchContainer(ev) {
			sel.stats = append(sel.stats, r)
		}
	}
	e.selected[k] = sel
	return sel
}

// selectsLogs reports whether any enabled log rule selects container c.
func (e *evaluator) selectsLogs(c wire.ContainerSummary) bool {
	return len(e.log) > 0 && len(e.selecting(c).log) > 0
}

// forget drops the state of a container that is gone.
func (e *evaluator) forget(c ctrKey) {
	for k := range e.windows {
		if k.ctr == c {
			delete(e.windows, k)
		}
	}
	delete(e.selected, c)
}

// summaryEvent dresses a container as an event, for the filters.
func summaryEvent(c wire.ContainerSummary) wire.ContainerEvent {
	attrs := make(map[string]string, len(c.Labels)+2)
	for k, v := range c.Labels {
		attrs[k] = v
	}
	attrs["name"], attrs["image"] = c.Name, c.Image
	return wire.ContainerEvent{Type: wire.ContainerEventType, ID: c.ID, Host: c.Host, Actor: wire.Actor{ID: c.ID, Attributes: attrs}}
}

func containerAlert(r *Rule, c wire.ContainerSummary, now time.Time, msg string) wire.Alert {
	return wire.Alert{
		Rule: r.Name, RuleID: r.ID, Host: c.Host, Kind: r.Kind, Message: msg, Time: now.UTC(),
		Container: wire.AlertContainer{ID: c.ID, Name: c.Name, Image: c.Image},
	}
}

// clipLine keeps an alert message readable when a log line is huge.
func clipLine(s string) string { return clipTo(s, 1000) }
