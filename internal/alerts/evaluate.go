package alerts

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// firing is a rule that fired, with the alert to record and deliver.
type firing struct {
	rule  *Rule
	alert wire.Alert
}

// windows are one container's windows, by rule id.
type windows map[int64]*window

// evaluator decides which rules fire. It does no I/O and reads no clock:
// callers pass the time, so tests drive it with a fake one. It is not safe
// for concurrent use.
type evaluator struct {
	event, log, stats []slotted            // enabled rules by kind
	byAction          map[string][]slotted // event rules by the actions their filters name
	anyAction         []slotted            // event rules whose filters name no action
	slots             map[string]int       // a slot per distinct filter and expression
	memo              []uint8              // per slot, its outcome for the current input
	tracker           *tracker
	windows           map[ctrKey]windows   // per container, then per rule: one string hash per input
	selected          map[ctrKey]selection // log and stats rules selecting a container, cached
	vm                vm.VM                // reused: running a program then allocates nothing
	env               map[string]any       // the facts of the input being evaluated, reused
}

func newEvaluator(stopWindow time.Duration) *evaluator {
	return &evaluator{tracker: newTracker(stopWindow), windows: make(map[ctrKey]windows), env: make(map[string]any), selected: make(map[ctrKey]selection)}
}

// slotted is a rule with the memo slots of its filters and expression.
// Rules made from one preset share them: for one input, 100 rules of 5
// shapes run 5 filters and 5 programs, not 100.
type slotted struct {
	*Rule
	filterSlot, whenSlot int
}

// memo outcomes; the zero value means not evaluated yet for this input.
const (
	memoFalse uint8 = iota + 1
	memoTrue
)

// remember returns the outcome in slot, running eval the first time the
// current input asks for it.
func (e *evaluator) remember(slot int, eval func() bool) bool {
	switch e.memo[slot] {
	case memoTrue:
		return true
	case memoFalse:
		return false
	}
	ok := eval()
	e.memo[slot] = memoFalse
	if ok {
		e.memo[slot] = memoTrue
	}
	return ok
}

// slot returns the slot of key, making it when new.
func (e *evaluator) slot(key string) int {
	if i, ok := e.slots[key]; ok {
		return i
	}
	i := len(e.slots)
	e.slots[key] = i
	return i
}

// setRules replaces the rule set. Windows of rules that changed or went
// away are dropped, so an edited rule starts afresh.
func (e *evaluator) setRules(rules []*Rule) {
	keep := make(map[int64]*Rule, len(rules))
	e.event, e.log, e.stats = nil, nil, nil
	e.byAction, e.anyAction = make(map[string][]slotted), nil
	e.slots = make(map[string]int)
	for _, rule := range rules {
		if !rule.Enabled {
			continue
		}
		keep[rule.ID] = rule
		// The kind is part of the key: the same text means other facts.
		r := slotted{Rule: rule,
			filterSlot: e.slot("filters\x00" + rule.Kind + "\x00" + string(rule.Filters)),
			whenSlot:   e.slot("when\x00" + rule.Kind + "\x00" + rule.When),
		}
		switch r.Kind {
		case wire.AlertKindEvent:
			e.event = append(e.event, r)
			e.indexAction(r)
		case wire.AlertKindLog:
			e.log = append(e.log, r)
		case wire.AlertKindStats:
			e.stats = append(e.stats, r)
		}
	}
	// Rules naming no action apply to every action.
	for a, rules := range e.byAction {
		e.byAction[a] = slices.SortedFunc(slices.Values(append(rules, e.anyAction...)), func(x, y slotted) int { return cmp.Compare(x.ID, y.ID) })
	}
	e.memo = make([]uint8, len(e.slots))
	for c, ws := range e.windows {
		for id, w := range ws {
			if r := keep[id]; r == nil || w.rule != r {
				delete(ws, id)
			}
		}
		if len(ws) == 0 {
			delete(e.windows, c)
		}
	}
	clear(e.selected)
}

// indexAction files an event rule under the actions its filters name, so
// an event is only checked against the rules that can select it.
func (e *evaluator) indexAction(r slotted) {
	if !r.filters.HasEvents() {
		e.anyAction = append(e.anyAction, r)
		return
	}
	seen := make(map[string]bool)
	for _, a := range r.filters.Events() {
		base, _, _ := strings.Cut(a, ": ")
		if !seen[base] {
			seen[base] = true
			e.byAction[base] = append(e.byAction[base], r)
		}
	}
}

// window returns the window of r in ws, the windows of container c,
// making it (and ws) when missing.
func (e *evaluator) window(ws windows, r *Rule, c ctrKey) *window {
	if ws == nil {
		ws = make(windows)
		e.windows[c] = ws
	}
	w := ws[r.ID]
	if w == nil {
		w = &window{rule: r}
		ws[r.ID] = w
	}
	return w
}

// holds runs r's expression over the facts in e.env, once per input for
// rules sharing it.
func (e *evaluator) holds(r slotted) bool {
	return e.remember(r.whenSlot, func() bool {
		out, err := e.vm.Run(r.program, e.env)
		if err != nil {
			return false // a runtime error (e.g. a missing label) is no match
		}
		b, _ := out.(bool)
		return b
	})
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
	filled := false
	ws := e.windows[c]
	clear(e.memo)
	for _, r := range e.eventRules(action) {
		if !e.selectsEvent(r, &ev) {
			continue
		}
		if !filled {
			facts.Labels = eventLabels(ev.Actor.Attributes)
			facts.fill(e.env)
			filled = true
		}
		holds := e.holds(r)
		if !holds && ws[r.ID] == nil {
			continue // nothing to count, nothing to reset
		}
		w := e.window(ws, r.Rule, c)
		ws = e.windows[c]
		if r.For > 0 && holds {
			w.pending = e.eventAlert(r.Rule, ev, &facts)
		}
		if !w.observe(r.Rule, holds, now) {
			continue
		}
		if r.For > 0 {
			a := w.pending
			a.Time = now
			out = append(out, firing{r.Rule, a})
		} else {
			out = append(out, firing{r.Rule, e.eventAlert(r.Rule, ev, &facts)})
		}
	}
	return out
}

// eventRules returns the event rules that may select action, in id order.
func (e *evaluator) eventRules(action string) []slotted {
	if rules, ok := e.byAction[action]; ok {
		return rules
	}
	return e.anyAction
}

// selectsEvent applies r's filters: without an "event" key a rule sees
// every action (its expression picks), unlike /events/ws's start and stop.
func (e *evaluator) selectsEvent(r slotted, ev *wire.ContainerEvent) bool {
	return e.remember(r.filterSlot, func() bool {
		if r.filters.HasEvents() {
			return r.filters.Match(*ev)
		}
		return r.filters.MatchContainer(*ev)
	})
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
		Rule: r.Name, RuleID: r.ID, Host: ev.Host, Kind: r.Kind, Message: msg, Time: ev.At(),
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
	k := ctrKey{c.Host, c.ID}
	ws := e.windows[k]
	facts := LogFacts{Line: l.Line, Stream: l.Stream, Name: c.Name, Image: c.Image, Labels: c.Labels}
	facts.fill(e.env)
	clear(e.memo)
	var out []firing
	for _, r := range rules {
		if e.window(ws, r.Rule, k).observe(r.Rule, e.holds(r), now) {
			ws = e.windows[k]
			out = append(out, firing{r.Rule, containerAlert(r.Rule, c, now, fmt.Sprintf("%s: %s on %s: %s", r.Name, c.Name, c.Host, clipLine(l.Line)))})
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
	k := ctrKey{c.Host, c.ID}
	ws := e.windows[k]
	facts := StatsFacts{CPU: s.CPUUsage, Memory: s.MemoryUsage, MemoryBytes: float64(s.MemoryBytes), Name: c.Name, Image: c.Image, Labels: c.Labels}
	facts.fill(e.env)
	clear(e.memo)
	alert := func(r *Rule) wire.Alert {
		return containerAlert(r, c, now, fmt.Sprintf("%s: %s on %s: CPU %.1f %%, memory %.1f %% (%d MiB)",
			r.Name, c.Name, c.Host, s.CPUUsage, s.MemoryUsage, s.MemoryBytes>>20))
	}
	var out []firing
	for _, r := range rules {
		w := e.window(ws, r.Rule, k)
		ws = e.windows[k]
		holds := e.holds(r)
		if r.For > 0 && holds {
			w.pending = alert(r.Rule)
		}
		if w.observe(r.Rule, holds, now) {
			out = append(out, firing{r.Rule, alert(r.Rule)})
		}
	}
	return out
}

// tick fires the "for" rules whose condition has held long enough, for
// conditions that no new event or sample re-evaluates (a container stays
// unhealthy without further events).
func (e *evaluator) tick(now time.Time) []firing {
	var out []firing
	for _, ws := range e.windows {
		for _, w := range ws {
			if w.rule.For > 0 && w.due(w.rule, now) {
				a := w.pending
				a.Time = now
				out = append(out, firing{w.rule, a})
			}
		}
	}
	return out
}

// selection is the log and stats rules whose filters select a container.
type selection struct{ log, stats []slotted }

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
	delete(e.windows, c)
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
