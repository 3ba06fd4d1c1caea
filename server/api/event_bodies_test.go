package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/body"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestParseEventsBody(t *testing.T) {
	cases := []struct {
		name   string
		f      body.Format
		in     string
		n      int
		list   bool
		errHas string
		check  func(t *testing.T, es []wire.Event)
	}{
		{name: "json object", f: body.JSON, in: `{"tags":["a:b"],"type":"metrics","value":{"cpu":1},"timestamp":"2017-01-10T15:33:49.766Z"}`, n: 1,
			check: func(t *testing.T, es []wire.Event) {
				if es[0].Type != "metrics" || string(es[0].Value) != `{"cpu":1}` || !es[0].Timestamp.Equal(time.Date(2017, 1, 10, 15, 33, 49, 766e6, time.UTC)) {
					t.Fatalf("%+v", es[0])
				}
			}},
		{name: "json list", f: body.JSON, in: `[{"tags":["a"]},{"tags":["b"],"value":"x"}]`, n: 2, list: true},
		{name: "yaml minimum list", f: body.YAML, in: "- tags:\n  - custom_tag\n", n: 1, list: true},
		{name: "yaml object", f: body.YAML, in: "tags: [a, b]\nvalue: ''\ntimestamp: '2017-01-10T15:33:49.766Z'\ntype: archive\n", n: 1,
			check: func(t *testing.T, es []wire.Event) {
				if string(es[0].Value) != `""` || es[0].Type != "archive" || es[0].Timestamp.IsZero() {
					t.Fatalf("%+v", es[0])
				}
			}},
		{name: "yaml unquoted timestamp", f: body.YAML, in: "tags: [a]\ntimestamp: 2017-01-10T15:33:49Z\n", n: 1},
		{name: "yaml value map", f: body.YAML, in: "tags: [a]\nvalue:\n  cpu: 3\n", n: 1,
			check: func(t *testing.T, es []wire.Event) {
				if string(es[0].Value) != `{"cpu":3}` {
					t.Fatalf("%s", es[0].Value)
				}
			}},
		{name: "no tags", f: body.JSON, in: `{"type":"x"}`, errHas: "tags: at least one tag is required"},
		{name: "tags not list", f: body.JSON, in: `{"tags":"a"}`, errHas: "tags: must be a list of strings"},
		{name: "list item error", f: body.JSON, in: `[{"tags":["a"]},{"tags":["b"],"type":"bad type"}]`, errHas: "[1].type: must match"},
		{name: "bad timestamp", f: body.JSON, in: `{"tags":["a"],"timestamp":"yesterday"}`, errHas: "timestamp: must be RFC 3339"},
		{name: "numeric timestamp", f: body.JSON, in: `{"tags":["a"],"timestamp":5}`, errHas: "timestamp: must be an RFC 3339 string"},
		{name: "empty body", f: body.JSON, in: ``, errHas: "body: expected an event"},
		{name: "empty list", f: body.JSON, in: `[]`, errHas: "body: the list holds no events"},
		{name: "scalar", f: body.YAML, in: `hello`, errHas: "body: expected an event"},
		{name: "list of scalars", f: body.JSON, in: `[1]`, errHas: "[0].event: must be an object"},
		{name: "syntax", f: body.JSON, in: `{"tags":`, errHas: "json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es, list, err := parseEventsBody(c.f, []byte(c.in))
			if c.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("err = %v, want it to contain %q", err, c.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != c.n || list != c.list {
				t.Fatalf("got %d events list=%v", len(es), list)
			}
			if c.check != nil {
				c.check(t, es)
			}
		})
	}
}

func TestParseSearchBody(t *testing.T) {
	f, agg, err := parseSearchBody(body.JSON, []byte(`{"tags":["a","b"],"type":"metrics","timestamp":{"gte":"2024-01-01T00:00:00Z","lt":"2024-02-01T00:00:00+01:00"},"aggregator":{"type":"average","field":"cpu"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tags) != 2 || f.Type != "metrics" || f.Gte == nil || f.Lt == nil || f.Gt != nil || agg == nil || agg.Type != "average" || agg.Field != "cpu" {
		t.Fatalf("%+v %+v", f, agg)
	}
	if !f.Lt.Equal(time.Date(2024, 1, 31, 23, 0, 0, 0, time.UTC)) {
		t.Fatalf("lt %v", f.Lt)
	}
	f, agg, err = parseSearchBody(body.YAML, []byte("type: x\n"))
	if err != nil || f.Type != "x" || agg != nil {
		t.Fatalf("%+v %+v %v", f, agg, err)
	}
	if f, agg, err = parseSearchBody(body.JSON, nil); err != nil || agg != nil || len(f.Tags) != 0 {
		t.Fatalf("empty: %+v %v", f, err)
	}
	for _, c := range []struct{ in, field string }{
		{`{"timestamp":{"lt":"2024-01-01T00:00:00Z","lte":"2024-01-01T00:00:00Z"}}`, "timestamp"},
		{`{"timestamp":{"after":"2024-01-01T00:00:00Z"}}`, "timestamp.after"},
		{`{"timestamp":{"gt":"soon"}}`, "timestamp.gt"},
		{`{"timestamp":"2024"}`, "timestamp"},
		{`{"aggregator":{"type":"median","field":"cpu"}}`, "aggregator.type"},
		{`{"aggregator":{"type":"max"}}`, "aggregator.field"},
		{`{"tags":"a"}`, "tags"},
		{`{"type":"a b"}`, "type"},
		{`[1]`, "body"},
	} {
		_, _, err := parseSearchBody(body.JSON, []byte(c.in))
		var fe *store.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: err %v, want field %q", c.in, err, c.field)
		}
	}
}

// FuzzParseEventsBody checks that no body panics the parser, and that whatever
// it accepts normalises, and survives a JSON round trip unchanged.
func FuzzParseEventsBody(f *testing.F) {
	f.Add([]byte(`{"tags":["a:b"],"value":{"cpu":1}}`), false)
	f.Add([]byte("- tags:\n  - custom_tag\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		format := body.JSON
		if yaml {
			format = body.YAML
		}
		es, list, err := parseEventsBody(format, data)
		if err != nil {
			return
		}
		if len(es) == 0 || (!list && len(es) != 1) {
			t.Fatalf("accepted %d events, list=%v", len(es), list)
		}
		now := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		var norm []wire.Event
		for _, e := range es {
			n, err := store.Normalize(e, now)
			if err != nil {
				t.Fatalf("parsed event does not normalise: %v", err)
			}
			norm = append(norm, n)
		}
		js, err := json.Marshal(norm)
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := parseEventsBody(body.JSON, js)
		if err != nil {
			t.Fatalf("round trip of %s: %v", js, err)
		}
		for i := range again {
			n, err := store.Normalize(again[i], now)
			if err != nil {
				t.Fatal(err)
			}
			m := norm[i]
			if n.Type != m.Type || !n.Timestamp.Equal(m.Timestamp) || string(n.Value) != string(m.Value) || strings.Join(n.Tags, "\x00") != strings.Join(m.Tags, "\x00") {
				t.Fatalf("round trip changed the event:\n%+v\n%+v", m, n)
			}
		}
	})
}
