package alerts

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// ctrEvent is a container event of container id "c1" on host "h" at t.
func ctrEvent(action string, at time.Time, attrs ...string) wire.ContainerEvent {
	a := map[string]string{"name": "web", "image": "app:1", "env": "prod"}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i]] = attrs[i+1]
	}
	return wire.ContainerEvent{Type: "container", Action: action, ID: "c1", Host: "h",
		Actor: wire.Actor{ID: "c1", Attributes: a}, Time: at.Unix(), TimeNano: at.UnixNano()}
}

func mustRule(t *testing.T, id int64, r wire.AlertRule) *Rule {
	t.Helper()
	r.ID, r.Enabled = id, true
	if r.Name == "" {
		r.Name = "rule"
	}
	c, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func preset(t *testing.T, id string) wire.AlertRule {
	t.Helper()
	for _, p := range Presets() {
		if p.ID == id {
			return p.Rule
		}
	}
	t.Fatalf("no preset %q", id)
	return wire.AlertRule{}
}

func newEval(t *testing.T, rules ...*Rule) *evaluator {
	e := newEvaluator(DefaultStopWindow)
	e.setRules(rules)
	return e
}

func TestCrashPresetIgnoresDockerStop(t *testing.T) {
	e := newEval(t, mustRule(t, 1, preset(t, "crash")))
	// docker stop, as the engine logs it: kill, die 143, stop.
	at := t0
	for _, ev := range []wire.ContainerEvent{
		ctrEvent("start", at), ctrEvent("kill", at.Add(time.Second), "signal", "15"),
		ctrEvent("die", at.Add(2*time.Second), "exitCode", "143"), ctrEvent("stop", at.Add(2*time.Second)),
	} {
		if fs := e.onEvent(ev, ev2time(ev)); len(fs) != 0 {
			t.Fatalf("docker stop fired: %+v", fs[0].alert)
		}
	}
	// Started again, it crashes on its own: that fires, once.
	at = t0.Add(time.Minute)
	e.onEvent(ctrEvent("start", at), at)
	fs := e.onEvent(ctrEvent("die", at.Add(time.Second), "exitCode", "3"), at.Add(time.Second))
	if len(fs) != 1 {
		t.Fatalf("crash fired %d times, want 1", len(fs))
	}
	a := fs[0].alert
	if a.Container.Name != "web" || a.Host != "h" || a.Event == nil || a.Event.Action != "die" || a.Kind != "event" {
		t.Fatalf("alert: %+v", a)
	}
	// A clean exit is no crash.
	if fs := e.onEvent(ctrEvent("die", at.Add(2*time.Minute), "exitCode", "0"), at.Add(2*time.Minute)); len(fs) != 0 {
		t.Fatal("exit code 0 fired")
	}
}

func ev2time(ev wire.ContainerEvent) time.Time { return time.Unix(0, ev.TimeNano) }

func TestStoppedNeedsARecentKill(t *testing.T) {
	e := newEval(t, mustRule(t, 1, preset(t, "crash")))
	e.onEvent(ctrEvent("start", t0), t0)
	// docker kill -s HUP long ago, then a crash: not a stop.
	e.onEvent(ctrEvent("kill", t0, "signal", "1"), t0)
	late := t0.Add(DefaultStopWindow + time.Second)
	if fs := e.onEvent(ctrEvent("die", late, "exitCode", "2"), late); len(fs) != 1 {
		t.Fatalf("a crash long after a kill fired %d times, want 1", len(fs))
	}
}

func TestOOMKilledFact(t *testing.T) {
	e := newEval(t, mustRule(t, 1, wire.AlertRule{Kind: "event", When: `action == "die" && oomKilled`}))
	e.onEvent(ctrEvent("start", t0), t0)
	e.onEvent(ctrEvent("oom", t0.Add(time.Second)), t0)
	if fs := e.onEvent(ctrEvent("die", t0.Add(2*time.Second), "exitCode", "137"), t0); len(fs) != 1 {
		t.Fatalf("die after oom fired %d times, want 1", len(fs))
	}
	e.onEvent(ctrEvent("start", t0.Add(time.Minute)), t0)
	if fs := e.onEvent(ctrEvent("die", t0.Add(2*time.Minute), "exitCode", "1"), t0); len(fs) != 0 {
		t.Fatal("the oom of a previous run counted again")
	}
}

func TestRestartLoopFiresOncePerCooldown(t *testing.T) {
	r := preset(t, "restart-loop") // 3 dies within 5m, cooldown 15m
	e := newEval(t, mustRule(t, 1, r))
	fired := 0
	// A container dying every 30 s for 20 minutes.
	for i := range 40 {
		now := t0.Add(time.Duration(i) * 30 * time.Second)
		e.onEvent(ctrEvent("start", now), now)
		fired += len(e.onEvent(ctrEvent("die", now.Add(time.Second), "exitCode", "1"), now))
		if i == 2 && fired != 1 {
			t.Fatalf("after 3 dies: fired %d, want 1", fired)
		}
	}
	// Fired at the 3rd die (1m), then not before 16m: once more at 16m.
	if fired != 2 {
		t.Fatalf("fired %d times in 20 minutes, want 2 (once per 15m cooldown)", fired)
	}
	// Two dies within 5 minutes, elsewhere, never fire.
	e2 := newEval(t, mustRule(t, 1, r))
	for i := range 10 {
		now := t0.Add(time.Duration(i) * 3 * time.Minute)
		if fs := e2.onEvent(ctrEvent("die", now, "exitCode", "1"), now); len(fs) != 0 {
			t.Fatalf("die %d, 3 minutes apart, fired", i)
		}
	}
}

func TestUnhealthyFiresAfterFor(t *testing.T) {
	e := newEval(t, mustRule(t, 1, preset(t, "unhealthy"))) // for 1m
	e.onEvent(ctrEvent("start", t0), t0)
	if fs := e.onEvent(ctrEvent("health_status: unhealthy", t0), t0); len(fs) != 0 {
		t.Fatal("fired at once")
	}
	if fs := e.tick(t0.Add(59 * time.Second)); len(fs) != 0 {
		t.Fatal("fired before for")
	}
	fs := e.tick(t0.Add(61 * time.Second))
	if len(fs) != 1 || fs[0].alert.Container.Name != "web" || !fs[0].alert.Time.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("after for: %+v", fs)
	}
	if fs := e.tick(t0.Add(5 * time.Minute)); len(fs) != 0 {
		t.Fatal("fired again while the same unhealthy spell lasts")
	}

	// Healthy again before for: nothing.
	e2 := newEval(t, mustRule(t, 1, preset(t, "unhealthy")))
	e2.onEvent(ctrEvent("health_status: unhealthy", t0), t0)
	e2.onEvent(ctrEvent("health_status: healthy", t0.Add(30*time.Second)), t0.Add(30*time.Second))
	if fs := e2.tick(t0.Add(2 * time.Minute)); len(fs) != 0 {
		t.Fatal("fired although healthy again")
	}
	// Dying ends the spell too.
	e2.onEvent(ctrEvent("health_status: unhealthy", t0.Add(3*time.Minute)), t0.Add(3*time.Minute))
	e2.onEvent(ctrEvent("die", t0.Add(3*time.Minute+time.Second), "exitCode", "0"), t0.Add(3*time.Minute+time.Second))
	if fs := e2.tick(t0.Add(10 * time.Minute)); len(fs) != 0 {
		t.Fatal("fired for a container that died")
	}
}

func TestFiltersSelectContainers(t *testing.T) {
	r := preset(t, "crash")
	r.Filters = json.RawMessage(`{"event":["die"],"label":["env=prod"],"container":["web"]}`)
	e := newEval(t, mustRule(t, 1, r))
	if fs := e.onEvent(ctrEvent("die", t0, "exitCode", "1"), t0); len(fs) != 1 {
		t.Fatal("matching container did not fire")
	}
	other := ctrEvent("die", t0, "exitCode", "1", "env", "dev")
	other.Actor.ID, other.ID = "c2", "c2"
	if fs := e.onEvent(other, t0); len(fs) != 0 {
		t.Fatal("a container the label filter excludes fired")
	}
}

func TestDisabledRuleDoesNotFire(t *testing.T) {
	r := mustRule(t, 1, preset(t, "crash"))
	r.Enabled = false
	e := newEval(t, r)
	if fs := e.onEvent(ctrEvent("die", t0, "exitCode", "1"), t0); len(fs) != 0 {
		t.Fatal("disabled rule fired")
	}
}

func TestLogRuleCooldown(t *testing.T) {
	r := preset(t, "log-pattern") // cooldown 5m
	r.Filters = json.RawMessage(`{"label":["env=prod"]}`)
	e := newEval(t, mustRule(t, 1, r))
	c := wire.ContainerSummary{ID: "c1", Host: "h", Name: "web", Image: "app", Labels: map[string]string{"env": "prod"}}
	if fs := e.onLog(c, wire.LogLine{Stream: "stdout", Line: "all good"}, t0); len(fs) != 0 {
		t.Fatal("a harmless line fired")
	}
	fs := e.onLog(c, wire.LogLine{Stream: "stderr", Line: "ERROR: db down"}, t0)
	if len(fs) != 1 || fs[0].alert.Kind != "log" || fs[0].alert.Message != "log errors: web on h: ERROR: db down" {
		t.Fatalf("error line: %+v", fs)
	}
	if fs := e.onLog(c, wire.LogLine{Line: "panic: again"}, t0.Add(time.Minute)); len(fs) != 0 {
		t.Fatal("fired within the cooldown")
	}
	if fs := e.onLog(c, wire.LogLine{Line: "fatal error"}, t0.Add(6*time.Minute)); len(fs) != 1 {
		t.Fatal("did not fire after the cooldown")
	}
	dev := c
	dev.ID, dev.Labels = "c2", map[string]string{"env": "dev"}
	if e.selectsLogs(dev) || !e.selectsLogs(c) {
		t.Fatal("log rule selects the wrong containers")
	}
}

func TestStatsRuleFor(t *testing.T) {
	e := newEval(t, mustRule(t, 1, preset(t, "cpu"))) // cpu > 90 for 5m
	c := wire.ContainerSummary{ID: "c1", Host: "h", Name: "web"}
	fired := 0
	for i := range 12 { // a sample every 30 s: busy for 6 minutes
		now := t0.Add(time.Duration(i) * 30 * time.Second)
		fired += len(e.onStats(c, wire.Stats{CPUUsage: 95}, now))
		if now.Sub(t0) < 5*time.Minute && fired > 0 {
			t.Fatalf("fired after %v, before for", now.Sub(t0))
		}
	}
	if fired != 1 {
		t.Fatalf("fired %d times, want 1", fired)
	}
	// A dip restarts the clock.
	e2 := newEval(t, mustRule(t, 1, preset(t, "cpu")))
	e2.onStats(c, wire.Stats{CPUUsage: 95}, t0)
	e2.onStats(c, wire.Stats{CPUUsage: 10}, t0.Add(4*time.Minute))
	if fs := e2.onStats(c, wire.Stats{CPUUsage: 95}, t0.Add(6*time.Minute)); len(fs) != 0 {
		t.Fatal("fired although the condition broke")
	}
}

func TestEditedRuleStartsAfresh(t *testing.T) {
	r := mustRule(t, 1, preset(t, "restart-loop"))
	e := newEval(t, r)
	e.onEvent(ctrEvent("die", t0, "exitCode", "1"), t0)
	e.onEvent(ctrEvent("die", t0, "exitCode", "1"), t0)
	e.setRules([]*Rule{mustRule(t, 1, preset(t, "restart-loop"))})
	if fs := e.onEvent(ctrEvent("die", t0, "exitCode", "1"), t0); len(fs) != 0 {
		t.Fatal("matches counted before the edit")
	}
}

// Rules sharing an expression or filters share its outcome per input, but
// each still answers for itself: a shared expression must not leak one
// rule's filter outcome into another's, nor one input's into the next.
func TestRulesSharingConditionsFireIndependently(t *testing.T) {
	crash := `exitCode != 0 && !stopped`
	e := newEval(t,
		mustRule(t, 1, wire.AlertRule{Kind: "event", Filters: []byte(`{"container":["web"]}`), When: crash}),
		mustRule(t, 2, wire.AlertRule{Kind: "event", Filters: []byte(`{"container":["db"]}`), When: crash}),
		mustRule(t, 3, wire.AlertRule{Kind: "event", Filters: []byte(`{"container":["web"]}`), When: crash}),
		mustRule(t, 4, wire.AlertRule{Kind: "event", Filters: []byte(`{"container":["web"]}`), When: `exitCode == 0`}),
	)
	fired := func(evs ...wire.ContainerEvent) []int64 {
		var ids []int64
		for i, ev := range evs {
			for _, f := range e.onEvent(ev, t0.Add(time.Duration(i)*time.Second)) {
				ids = append(ids, f.rule.ID)
			}
		}
		return ids
	}
	if got := fired(ctrEvent("die", t0, "exitCode", "1")); !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("web crashed: rules %v fired, want [1 3]", got)
	}
	if got := fired(ctrEvent("die", t0.Add(time.Minute), "exitCode", "0")); !slices.Equal(got, []int64{4}) {
		t.Errorf("web exited cleanly next: rules %v fired, want [4]", got)
	}
	db := ctrEvent("die", t0.Add(2*time.Minute), "exitCode", "2", "name", "db")
	db.ID, db.Actor.ID = "c2", "c2"
	if got := fired(db); !slices.Equal(got, []int64{2}) {
		t.Errorf("db crashed: rules %v fired, want [2]", got)
	}
}
