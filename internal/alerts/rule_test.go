package alerts

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestCompileRefusesBadRules(t *testing.T) {
	ok := wire.AlertRule{Name: "r", Enabled: true, Kind: wire.AlertKindEvent, When: `exitCode != 0`}
	mod := func(f func(*wire.AlertRule)) wire.AlertRule { r := ok; f(&r); return r }
	cases := []struct {
		name string
		rule wire.AlertRule
		want string // in the error
	}{
		{"no name", mod(func(r *wire.AlertRule) { r.Name = " " }), "name is required"},
		{"long name", mod(func(r *wire.AlertRule) { r.Name = strings.Repeat("n", MaxNameLen+1) }), "name is longer"},
		{"unknown kind", mod(func(r *wire.AlertRule) { r.Kind = "metric" }), `kind "metric"`},
		{"bad filters JSON", mod(func(r *wire.AlertRule) { r.Filters = []byte(`{"container":`) }), "filters"},
		{"unknown filter key", mod(func(r *wire.AlertRule) { r.Filters = []byte(`{"colour":["red"]}`) }), `unknown filter key "colour"`},
		{"event key on a log rule", mod(func(r *wire.AlertRule) {
			r.Kind, r.When, r.Filters = "log", `line contains "x"`, []byte(`{"event":["die"]}`)
		}), `"event" key`},
		{"no expression", mod(func(r *wire.AlertRule) { r.When = "" }), "when is required"},
		{"does not compile", mod(func(r *wire.AlertRule) { r.When = `exitCode !=` }), "when:"},
		{"unknown fact", mod(func(r *wire.AlertRule) { r.When = `exitcode != 0` }), "unknown name exitcode"},
		{"fact of another kind", mod(func(r *wire.AlertRule) { r.When = `cpu > 90` }), "unknown name cpu"},
		{"log fact on stats", mod(func(r *wire.AlertRule) { r.Kind, r.When = "stats", `line == "x"` }), "unknown name line"},
		{"not boolean", mod(func(r *wire.AlertRule) { r.When = `exitCode + 1` }), "when:"},
		{"bad regexp", mod(func(r *wire.AlertRule) { r.Kind, r.When = "log", `line matches "("` }), "when:"},
		{"count without within", mod(func(r *wire.AlertRule) { r.Count = 3 }), "count needs within"},
		{"within without count", mod(func(r *wire.AlertRule) { r.Within = wire.Duration(time.Minute) }), "within needs count"},
		{"negative count", mod(func(r *wire.AlertRule) { r.Count = -1 }), "count: -1"},
		{"negative for", mod(func(r *wire.AlertRule) { r.For = -1 }), "for:"},
		{"huge cooldown", mod(func(r *wire.AlertRule) { r.Cooldown = wire.Duration(MaxWindow + 1) }), "cooldown:"},
		{"for with count", mod(func(r *wire.AlertRule) {
			r.For, r.Count, r.Within = wire.Duration(time.Minute), 2, wire.Duration(time.Minute)
		}), "cannot be combined"},
		{"for on a log rule", mod(func(r *wire.AlertRule) {
			r.Kind, r.When, r.For = "log", `line contains "x"`, wire.Duration(time.Minute)
		}), "for applies to event and stats"},
		{"unknown scheme", mod(func(r *wire.AlertRule) { r.Notify = []string{"pager://x/y"} }), `notify[0]: unknown scheme "pager"`},
		{"no scheme", mod(func(r *wire.AlertRule) { r.Notify = []string{"example.com/hook"} }), "no scheme"},
		{"webhook without host", mod(func(r *wire.AlertRule) { r.Notify = []string{"https:///hook"} }), "no host"},
		{"bad shoutrrr URL", mod(func(r *wire.AlertRule) { r.Notify = []string{"https://ok.example/h", "telegram://x@telegram"} }), "notify[1]"},
		{"too many targets", mod(func(r *wire.AlertRule) {
			r.Notify = make([]string, MaxTargets+1)
			for i := range r.Notify {
				r.Notify[i] = "https://example.com/h"
			}
		}), "targets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.rule)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Compile: %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Compile: %q, want it to say %q", err, c.want)
			}
		})
	}
}

func TestCompileAcceptsTargetsAndFacts(t *testing.T) {
	for _, r := range []wire.AlertRule{
		{Name: "event facts", Kind: "event", When: `action == "die" && exitCode == 3 && !stopped && !oomKilled && health != "unhealthy" && name startsWith "web" && image != "" && labels["env"] == "prod"`},
		{Name: "log facts", Kind: "log", When: `stream == "stderr" && line matches "(?i)error" && name != ""`, Count: 5, Within: wire.Duration(time.Minute)},
		{Name: "stats facts", Kind: "stats", When: `cpu > 90 || memory > 80 || memoryBytes > 512 * 1024 * 1024`, For: wire.Duration(time.Minute)},
		{Name: "targets", Kind: "event", When: "true", Notify: []string{
			"http://127.0.0.1:9/hook", "https://hooks.example.com/x?token=s", "ntfy://ntfy.sh/crowsnest",
			"discord://token@channel", "gotify://gotify.example.com/Aaa.bbb.ccc.ddd",
		}},
	} {
		if _, err := Compile(r); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
}

func TestPresetsCompile(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Presets() {
		if seen[p.ID] {
			t.Errorf("preset id %q twice", p.ID)
		}
		seen[p.ID] = true
		if _, err := Compile(p.Rule); err != nil {
			t.Errorf("preset %s: %v", p.ID, err)
		}
	}
	for _, id := range []string{"crash", "oom", "restart-loop", "unhealthy", "log-pattern", "cpu", "memory"} {
		if !seen[id] {
			t.Errorf("preset %q missing", id)
		}
	}
}

func TestRedactTargetHidesSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@hooks.example.com/x?token=s": "https://***@hooks.example.com/x?***",
		"telegram://123:secret@telegram?chats=1":      "telegram://***@telegram?***",
		"ntfy://ntfy.sh/topic":                        "ntfy://ntfy.sh/topic",
	} {
		got := RedactTarget(in)
		if got != want || strings.Contains(got, "secret") || strings.Contains(got, "pw") {
			t.Errorf("RedactTarget(%q) = %q, want %q", in, got, want)
		}
	}
}
