package alerts

import (
	"fmt"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// BenchmarkAlertRules100 measures the evaluation of one container event
// against 100 enabled event rules: a mix of the presets' shapes, most with
// an action filter as real rules have, some matching every action and
// some narrowed by label. The 100 are made from 5 shapes (the presets a
// user applies to many services), and rules sharing an expression or
// filters share their outcome per event.
func BenchmarkAlertRules100(b *testing.B) { benchmarkAlertRules(b, false) }

// BenchmarkAlertRules100Distinct is the worst case: 100 rules whose
// expressions all differ, so every one runs its own program.
func BenchmarkAlertRules100Distinct(b *testing.B) { benchmarkAlertRules(b, true) }

func benchmarkAlertRules(b *testing.B, distinct bool) {
	shapes := []wire.AlertRule{
		{Kind: "event", Filters: []byte(`{"event":["die"]}`), When: `exitCode != 0 && !stopped`, Cooldown: wire.Duration(time.Minute)},
		{Kind: "event", Filters: []byte(`{"event":["oom"]}`), When: `action == "oom"`},
		{Kind: "event", Filters: []byte(`{"event":["die"]}`), When: `!stopped`, Count: 3, Within: wire.Duration(5 * time.Minute), Cooldown: wire.Duration(15 * time.Minute)},
		{Kind: "event", When: `health == "unhealthy"`, For: wire.Duration(time.Minute)},
		{Kind: "event", Filters: []byte(`{"label":["env=prod"]}`), When: `action == "die" && labels["tier"] == "db"`},
	}
	rules := make([]*Rule, 100)
	for i := range rules {
		r := shapes[i%len(shapes)]
		r.ID, r.Name, r.Enabled = int64(i+1), fmt.Sprintf("rule %d", i), true
		if distinct {
			r.When += fmt.Sprintf(` && name != "svc-%d"`, i)
		}
		c, err := Compile(r)
		if err != nil {
			b.Fatal(err)
		}
		rules[i] = c
	}
	e := newEvaluator(DefaultStopWindow)
	e.setRules(rules)
	// The busiest realistic stream: containers starting and exiting cleanly.
	evs := []wire.ContainerEvent{ctrEvent("start", t0), ctrEvent("die", t0, "exitCode", "0")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e.onEvent(evs[i%2], t0.Add(time.Duration(i)*time.Second))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}
