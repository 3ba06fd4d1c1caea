package filter

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// hyperEvent is the example event of Hyper's "Monitor events" document,
// attributes included (the empty-named one too), plus a host.
func hyperEvent() wire.ContainerEvent {
	const id = "f29698cac3f6f66e84790fb12b3e5e4f3455b89b3ff12150ac4d86b8b90d9179"
	return wire.ContainerEvent{
		Status: "start",
		ID:     id,
		From:   "xjimmyshcn/busybox",
		Type:   "container",
		Action: "start",
		Actor: wire.Actor{ID: id, Attributes: map[string]string{
			"":                      "",
			"exitCode":              "0",
			"image":                 "xjimmyshcn/busybox",
			"name":                  "test4",
			"sh_hyper_instancetype": "s4",
			"test1":                 "",
			"test2":                 "test2",
			"test3":                 "test3=test3",
		}},
		Time:     1476375852,
		TimeNano: 1476375852191659300,
		Host:     "Localhost",
	}
}

// with returns a copy of the example event changed by the given options, so
// each table row states only what it is about.
func with(opts ...func(*wire.ContainerEvent)) wire.ContainerEvent {
	ev := hyperEvent()
	attrs := make(map[string]string, len(ev.Actor.Attributes))
	for k, v := range ev.Actor.Attributes {
		attrs[k] = v
	}
	ev.Actor.Attributes = attrs
	for _, o := range opts {
		o(&ev)
	}
	return ev
}

func action(a string) func(*wire.ContainerEvent) {
	return func(ev *wire.ContainerEvent) { ev.Action, ev.Status = a, a }
}

func image(img string) func(*wire.ContainerEvent) {
	return func(ev *wire.ContainerEvent) { ev.Actor.Attributes["image"], ev.From = img, img }
}

func attr(k, v string) func(*wire.ContainerEvent) {
	return func(ev *wire.ContainerEvent) { ev.Actor.Attributes[k] = v }
}

func TestParseErrors(t *testing.T) {
	many := func(n int) string {
		vals := make([]string, n)
		for i := range vals {
			vals[i] = fmt.Sprintf("%q", fmt.Sprintf("c%d", i))
		}
		return `{"container":[` + strings.Join(vals, ",") + `]}`
	}
	tests := []struct {
		name, in string
		want     []string // substrings of the error text
	}{
		{"malformed JSON", `{"event":`, []string{"malformed JSON"}},
		{"not JSON", `event=start`, []string{"malformed JSON"}},
		{"trailing garbage", `{"event":["start"]}x`, []string{"malformed JSON"}},
		{"top-level array", `["start"]`, []string{"want a JSON object", "array"}},
		{"top-level string", `"start"`, []string{"want a JSON object", "string"}},
		{"unknown key", `{"evnt":["start"]}`, []string{`unknown filter key "evnt"`, "container, event, host, image, label, type"}},
		{"key case matters", `{"Event":["start"]}`, []string{`unknown filter key "Event"`}},
		{"unknown key among good ones", `{"event":["start"],"volume":["v"]}`, []string{`"volume"`}},
		{"unknown action", `{"event":["strat"]}`, []string{`unknown event "strat"`, "not a Docker container action", "start"}},
		{"image action", `{"event":{"pull":true}}`, []string{`unknown event "pull"`}},
		{"action case matters", `{"event":["Start"]}`, []string{`unknown event "Start"`}},
		{"detail on an action without one", `{"event":["start: now"]}`, []string{`unknown event "start: now"`}},
		{"empty detail", `{"event":["health_status: "]}`, []string{`unknown event "health_status: "`}},
		{"empty event", `{"event":[""]}`, []string{`filter "event" has an empty value`}},
		{"empty container", `{"container":[""]}`, []string{`filter "container" has an empty value`}},
		{"slash container", `{"container":["/"]}`, []string{`filter "container" has an empty value`}},
		{"empty image", `{"image":{"":true}}`, []string{`filter "image" has an empty value`}},
		{"empty host", `{"host":[""]}`, []string{`filter "host" has an empty value`}},
		{"type image", `{"type":["image"]}`, []string{`type "image" is not available`, "container"}},
		{"number in list", `{"event":[1]}`, []string{`filter "event"`, `["value",…]`}},
		{"string in set", `{"event":{"start":"yes"}}`, []string{`filter "event"`, `{"value":true,…}`}},
		{"scalar value", `{"event":"start"}`, []string{`filter "event"`, `want an object {"value":true} or a list ["value"]`, `"start"`}},
		{"too many per key", many(MaxValuesPerKey + 1), []string{`filter "container" has 101 values, at most 100`}},
		{"long value clipped", `{"event":["` + strings.Repeat("é", 100) + `"]}`, []string{"…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%s) = nil error, want one", tt.in)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%s) error %q does not contain %q", tt.in, err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "invalid filters: ") {
				t.Errorf("error %q lacks the common prefix", err)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error is %d bytes long; clients show it verbatim", len(err.Error()))
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	vals := func(prefix string, n int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = fmt.Sprintf("%q", fmt.Sprintf("%s%d", prefix, i))
		}
		return "[" + strings.Join(v, ",") + "]"
	}
	// Exactly the bound is fine.
	if _, err := Parse(`{"container":` + vals("c", MaxValuesPerKey) + `}`); err != nil {
		t.Errorf("%d values: %v", MaxValuesPerKey, err)
	}
	// Duplicates count once: they add no matching work.
	dup := `["a"` + strings.Repeat(`,"a"`, MaxValuesPerKey*2) + `]`
	if _, err := Parse(`{"container":` + dup + `}`); err != nil {
		t.Errorf("repeated value: %v", err)
	}
	// With six keys the total bound cannot be reached within the per-key one;
	// keep the two consistent so that stays true.
	if len(validKeys)*MaxValuesPerKey > MaxValues {
		t.Errorf("keys×MaxValuesPerKey = %d exceeds MaxValues %d", len(validKeys)*MaxValuesPerKey, MaxValues)
	}
}

func TestParseForms(t *testing.T) {
	// Each input must mean the same as the "want" input, checked by
	// matching the same events against both.
	tests := []struct{ name, in, same string }{
		{"set form", `{"event":{"die":true}}`, `{"event":["die"]}`},
		{"false entries ignored", `{"event":{"die":true,"oom":false}}`, `{"event":["die"]}`},
		{"all false means absent", `{"event":{"die":false}}`, ``},
		{"null set means absent", `{"event":null}`, ``},
		{"empty list means absent", `{"event":[]}`, ``},
		{"empty object", `{}`, ``},
		{"null", `null`, ``},
		{"blank", "  \n", ``},
		{"mixed forms", `{"event":{"die":true},"label":["test2=test2"]}`, `{"event":["die"],"label":{"test2=test2":true}}`},
		{"spaces", ` { "event" : [ "die" ] } `, `{"event":["die"]}`},
		{"duplicates", `{"event":["die","die"]}`, `{"event":["die"]}`},
		{"type container", `{"type":["container"]}`, ``},
	}
	events := sampleEvents()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.in, err)
			}
			want, err := Parse(tt.same)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.same, err)
			}
			for _, ev := range events {
				if g, w := got.Match(ev), want.Match(ev); g != w {
					t.Errorf("%s: Match(%s %s) = %v, %s gives %v", tt.in, ev.Action, ev.Actor.Attributes["name"], g, tt.same, w)
				}
			}
		})
	}
}

// sampleEvents covers many actions, names and images.
func sampleEvents() []wire.ContainerEvent {
	var evs []wire.ContainerEvent
	for _, a := range slices.Concat(containerActions, []string{"health_status: healthy", "exec_start: sh -c date"}) {
		evs = append(evs, with(action(a)), with(action(a), attr("name", "other"), image("nginx:1.27")))
	}
	return evs
}

func TestMatch(t *testing.T) {
	const id = "f29698cac3f6f66e84790fb12b3e5e4f3455b89b3ff12150ac4d86b8b90d9179"
	tests := []struct {
		name   string
		filter string
		ev     wire.ContainerEvent
		want   bool
	}{
		// No filter: the Hyper contract, start and stop only.
		{"no filter start", ``, with(), true},
		{"no filter stop", ``, with(action("stop")), true},
		{"no filter die", ``, with(action("die")), false},
		{"no filter health", ``, with(action("health_status: healthy")), false},
		{"no event key still start/stop only", `{"container":["test4"]}`, with(action("die")), false},
		{"legacy status only", ``, with(func(ev *wire.ContainerEvent) { ev.Action = "" }), true},

		// event
		{"event exact", `{"event":["die"]}`, with(action("die")), true},
		{"event other", `{"event":["die"]}`, with(action("start")), false},
		{"event values OR", `{"event":["die","oom"]}`, with(action("oom")), true},
		{"event widens beyond start/stop", `{"event":["restart"]}`, with(action("restart")), true},
		{"event narrows to start", `{"event":{"start":true}}`, with(action("stop")), false},
		{"bare health_status matches detail", `{"event":["health_status"]}`, with(action("health_status: healthy")), true},
		{"full health_status", `{"event":["health_status: healthy"]}`, with(action("health_status: healthy")), true},
		{"other health_status", `{"event":["health_status: healthy"]}`, with(action("health_status: unhealthy")), false},
		{"bare exec_start matches command", `{"event":["exec_start"]}`, with(action("exec_start: sh -c echo hi")), true},
		{"exec_start not exec_create", `{"event":["exec_start"]}`, with(action("exec_create: sh")), false},
		{"no Docker fuzz: start not restart", `{"event":["start","health_status"]}`, with(action("restart")), false},
		{"exec_die plain", `{"event":["exec_die"]}`, with(action("exec_die")), true},

		// container
		{"container name", `{"container":{"test4":true}}`, with(), true},
		{"container name prefix", `{"container":["test"]}`, with(), true},
		{"container name not suffix", `{"container":["est4"]}`, with(), false},
		{"container full id", `{"container":["` + id + `"]}`, with(), true},
		{"container short id", `{"container":["f29698cac3f6"]}`, with(), true},
		{"container other", `{"container":["web"]}`, with(), false},
		{"container slash in filter", `{"container":["/test4"]}`, with(), true},
		{"container slash in name", `{"container":["test4"]}`, with(attr("name", "/test4")), true},
		{"container values OR", `{"container":["web","test4"]}`, with(), true},
		{"container without name", `{"container":["test4"]}`, with(func(ev *wire.ContainerEvent) { delete(ev.Actor.Attributes, "name") }), false},
		{"container legacy id", `{"container":["f2969"]}`, with(func(ev *wire.ContainerEvent) { ev.Actor.ID = "" }), true},

		// image
		{"image exact", `{"image":["xjimmyshcn/busybox"]}`, with(), true},
		{"image docker.io spelled out", `{"image":["docker.io/xjimmyshcn/busybox"]}`, with(), true},
		{"image repo matches any tag", `{"image":["busybox"]}`, with(image("busybox:1.36")), true},
		{"image repo matches latest", `{"image":["busybox"]}`, with(image("busybox:latest")), true},
		{"image repo matches untagged", `{"image":["busybox"]}`, with(image("busybox")), true},
		{"image repo not a prefix", `{"image":["busy"]}`, with(image("busybox")), false},
		{"image repo other namespace", `{"image":["busybox"]}`, with(), false},
		{"image tag", `{"image":["busybox:1.36"]}`, with(image("busybox:1.36")), true},
		{"image tag other", `{"image":["busybox:1.36"]}`, with(image("busybox:1.37")), false},
		{"image tag vs untagged", `{"image":["busybox:1.36"]}`, with(image("busybox")), false},
		{"image latest vs untagged", `{"image":["busybox:latest"]}`, with(image("busybox")), true},
		{"image library spelled out", `{"image":["docker.io/library/busybox"]}`, with(image("busybox:1.36")), true},
		{"image library in event", `{"image":["busybox:1.36"]}`, with(image("docker.io/library/busybox:1.36")), true},
		{"image index.docker.io", `{"image":["busybox"]}`, with(image("index.docker.io/library/busybox")), true},
		{"image library/ prefix", `{"image":["library/busybox"]}`, with(image("busybox")), true},
		{"image other registry", `{"image":["busybox"]}`, with(image("ghcr.io/library/busybox")), false},
		{"image registry with port", `{"image":["localhost:5000/app"]}`, with(image("localhost:5000/app:v2")), true},
		{"image registry port vs tag", `{"image":["localhost:5000/app:v2"]}`, with(image("localhost:5000/app:v3")), false},
		{"image podman local in event", `{"image":["app"]}`, with(image("localhost/app:latest")), true},
		{"image podman local in filter", `{"image":["localhost/app:v1"]}`, with(image("app:v1")), true},
		{"image podman local other tag", `{"image":["app:v1"]}`, with(image("localhost/app:v2")), false},
		{"image registry port is not local", `{"image":["app"]}`, with(image("localhost:5000/app")), false},
		{"image digest", `{"image":["busybox@sha256:abc"]}`, with(image("busybox@sha256:abc")), true},
		{"image digest with tag in event", `{"image":["busybox@sha256:abc"]}`, with(image("busybox:1.36@sha256:abc")), true},
		{"image digest other", `{"image":["busybox@sha256:abc"]}`, with(image("busybox@sha256:def")), false},
		{"image digest vs tag only", `{"image":["busybox@sha256:abc"]}`, with(image("busybox:1.36")), false},
		{"image repo matches digest", `{"image":["busybox"]}`, with(image("busybox@sha256:abc")), true},
		{"image tag matches tag+digest", `{"image":["busybox:1.36"]}`, with(image("busybox:1.36@sha256:abc")), true},
		{"image latest vs digest only", `{"image":["busybox:latest"]}`, with(image("busybox@sha256:abc")), false},
		{"image id verbatim", `{"image":["sha256:0123abcd"]}`, with(image("sha256:0123abcd")), true},
		{"image from field", `{"image":["alpine"]}`, with(func(ev *wire.ContainerEvent) { delete(ev.Actor.Attributes, "image"); ev.From = "alpine:3" }), true},
		{"image none", `{"image":["alpine"]}`, with(func(ev *wire.ContainerEvent) { delete(ev.Actor.Attributes, "image"); ev.From = "" }), false},
		{"image values OR", `{"image":["nginx","xjimmyshcn/busybox:latest"]}`, with(), true},

		// label
		{"label key=value", `{"label":{"sh_hyper_instancetype=s4":true}}`, with(), true},
		{"label key=other", `{"label":["sh_hyper_instancetype=s3"]}`, with(), false},
		{"label key exists", `{"label":["test2"]}`, with(), true},
		{"label key exists with empty value", `{"label":["test1"]}`, with(), true},
		{"label key missing", `{"label":["test9"]}`, with(), false},
		{"label key= needs empty", `{"label":["test1="]}`, with(), true},
		{"label key= on non-empty", `{"label":["test2="]}`, with(), false},
		{"label key= on missing", `{"label":["test9="]}`, with(), false},
		{"label split at first =", `{"label":["test3=test3=test3"]}`, with(), true},
		{"label split at first = other", `{"label":["test3=test3"]}`, with(), false},
		{"label empty key", `{"label":[""]}`, with(), true},
		{"label empty key missing", `{"label":[""]}`, with(func(ev *wire.ContainerEvent) { delete(ev.Actor.Attributes, "") }), false},
		{"label =", `{"label":["="]}`, with(), true},
		{"label = on non-empty", `{"label":["="]}`, with(attr("", "x")), false},
		{"label =value on empty key", `{"label":["=x"]}`, with(attr("", "x")), true},
		{"label values AND", `{"label":["test1","test2=test2"]}`, with(), true},
		{"label values AND one fails", `{"label":["test1","test2=nope"]}`, with(), false},
		{"label no attributes", `{"label":["test1"]}`, with(func(ev *wire.ContainerEvent) { ev.Actor.Attributes = nil }), false},
		{"label value case matters", `{"label":["test2=Test2"]}`, with(), false},

		// host
		{"host", `{"host":["Localhost"]}`, with(), true},
		{"host other", `{"host":["edge"]}`, with(), false},
		{"host exact, not prefix", `{"host":["Local"]}`, with(), false},
		{"host values OR", `{"host":["edge","Localhost"]}`, with(), true},

		// type
		{"type container", `{"type":["container"]}`, with(), true},
		{"type on foreign event", `{"type":["container"]}`, with(func(ev *wire.ContainerEvent) { ev.Type = "image" }), false},

		// compound: keys AND
		{"hyper compound", `{"event":{"stop":true},"label":{"sh_hyper_instancetype=s4":true}}`, with(action("stop")), true},
		{"hyper compound wrong event", `{"event":{"stop":true},"label":{"sh_hyper_instancetype=s4":true}}`, with(), false},
		{"hyper compound wrong label", `{"event":{"stop":true},"label":{"sh_hyper_instancetype=s3":true}}`, with(action("stop")), false},
		{"all keys", `{"event":["die","start"],"container":["web","test"],"image":["xjimmyshcn/busybox"],"label":["test1","test2=test2"],"host":["Localhost"],"type":["container"]}`, with(action("die")), true},
		{"all keys, host fails", `{"event":["die","start"],"container":["web","test"],"image":["xjimmyshcn/busybox"],"label":["test1","test2=test2"],"host":["edge"],"type":["container"]}`, with(action("die")), false},
		{"all keys, image fails", `{"event":["die"],"container":["test"],"image":["busybox"],"label":["test1"]}`, with(action("die")), false},
		{"all keys, container fails", `{"event":["die"],"container":["web"],"image":["xjimmyshcn/busybox"]}`, with(action("die")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.filter, err)
			}
			if got := f.Match(tt.ev); got != tt.want {
				t.Errorf("Parse(%s).Match(action %q, name %q, image %q) = %v, want %v",
					tt.filter, tt.ev.Action, tt.ev.Actor.Attributes["name"], tt.ev.Image(), got, tt.want)
			}
		})
	}
}

func TestZeroFilters(t *testing.T) {
	var f Filters
	if !f.Match(with()) || !f.Match(with(action("stop"))) || f.Match(with(action("die"))) {
		t.Error("the zero Filters should match start and stop only")
	}
}

// TestEveryActionIsAccepted keeps the action list and the validation in step:
// each known action is a valid event filter matching that action and no
// other.
func TestEveryActionIsAccepted(t *testing.T) {
	for _, a := range containerActions {
		f, err := Parse(`{"event":["` + a + `"]}`)
		if err != nil {
			t.Errorf("event %q refused: %v", a, err)
			continue
		}
		for _, b := range containerActions {
			if got := f.Match(with(action(b))); got != (a == b) {
				t.Errorf("filter %q on action %q = %v", a, b, got)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	// The seeds in testdata/fuzz/FuzzParse are the interesting shapes; these
	// add the ones every run should cover even without that folder.
	f.Add(`{"event":{"start":true}}`)
	f.Add(`{"label":["a=b=c",""]}`)
	events := append(sampleEvents(),
		wire.ContainerEvent{},
		wire.ContainerEvent{Action: "start", Actor: wire.Actor{Attributes: map[string]string{"name": "/", "image": "@:/"}}},
		wire.ContainerEvent{Action: "start", From: ":", Actor: wire.Actor{ID: "a", Attributes: map[string]string{"": "", "image": "docker.io/"}}},
	)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid filters: ") {
				t.Errorf("error %q lacks the common prefix", err)
			}
			return
		}
		for _, ev := range events {
			// Whatever else a filter says, without an event key it keeps
			// the Hyper contract.
			if flt.Match(ev) && len(flt.events) == 0 && ev.Action != "start" && ev.Action != "stop" {
				t.Fatalf("Parse(%q) has no event key but matches action %q", s, ev.Action)
			}
		}
		// Parsing is deterministic: the same text gives the same verdicts.
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("second Parse failed: %v", err)
		}
		for _, ev := range events {
			if flt.Match(ev) != again.Match(ev) {
				t.Fatalf("Parse(%q) matches differently on a second parse", s)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	// A typical compound filter: some actions, a container by name prefix, an
	// image by repository, two labels.
	f, err := Parse(`{"event":["start","stop","die","health_status"],"container":["web","test"],"image":["busybox","xjimmyshcn/busybox"],"label":["test1","sh_hyper_instancetype=s4"]}`)
	if err != nil {
		b.Fatal(err)
	}
	hit, miss := with(action("health_status: healthy")), with(action("die"), attr("name", "db"))
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(hit) || f.Match(miss) {
			b.Fatal("wrong verdict")
		}
	}
}

// TestMatchContainerIgnoresActions: alert rules on logs and stats select
// containers by every key but "event", whatever the action.
func TestMatchContainerIgnoresActions(t *testing.T) {
	f, err := Parse(`{"container":["test4"],"label":["test2=test2"],"event":["start"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if !f.HasEvents() || !slices.Equal(f.Events(), []string{"start"}) {
		t.Fatalf("Events() = %v", f.Events())
	}
	if !f.MatchContainer(with(action("die"))) {
		t.Error("MatchContainer refused an action the container keys do not mention")
	}
	if f.Match(with(action("die"))) {
		t.Error("Match ignored the event key")
	}
	g, err := Parse(`{"label":["test2=other"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if g.HasEvents() || g.MatchContainer(with()) {
		t.Error("MatchContainer passed a container its label filter excludes")
	}
}
