package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/crowsnest-hq/crowsnest/internal/body"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

var (
	jsonCT = map[string]string{"Content-Type": "application/json"}
	yamlIO = map[string]string{"Content-Type": "application/x-yaml", "Accept": "application/x-yaml"}
)

func TestCreateEventJSON(t *testing.T) {
	ts := newTestServer(t)
	resp, data := ts.do(t, "POST", "/api/v1/events", jsonCT,
		`{"tags":["scales:large","archive"],"value":{"cpu":12.5},"type":"metrics","timestamp":"2017-01-10T15:33:49.766Z"}`)
	mustStatus(t, resp, data, 201)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var got wire.Event
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	if got.ID == 0 || got.ID != ts.s.store.LastID() {
		t.Errorf("id %d, store's last id %d", got.ID, ts.s.store.LastID())
	}
	// The combined tag is expanded: "scales:large" is also stored as "scales".
	if want := []string{"scales", "scales:large", "archive"}; !slices.Equal(got.Tags, want) {
		t.Errorf("tags %q, want %q", got.Tags, want)
	}
	if got.Type != "metrics" || string(got.Value) != `{"cpu":12.5}` {
		t.Errorf("type %q value %s", got.Type, got.Value)
	}
	if want := time.Date(2017, 1, 10, 15, 33, 49, 766e6, time.UTC); !got.Timestamp.Equal(want) {
		t.Errorf("timestamp %v, want %v", got.Timestamp, want)
	}
	if n := counterValue(t, ts.s.metrics.eventsIn.WithLabelValues("api")); n != 1 {
		t.Errorf("events_in{api} = %v, want 1", n)
	}

	// The list shows the same event, expanded tags included.
	resp, data = ts.do(t, "GET", "/api/v1/events?tag=scales", nil, "")
	mustStatus(t, resp, data, 200)
	if evs := decodeEvents(t, data); len(evs) != 1 || !slices.Equal(evs[0].Tags, got.Tags) {
		t.Errorf("list by the expanded tag: %s", data)
	}
}

func TestCreateEventDefaults(t *testing.T) {
	ts := newTestServer(t)
	before := time.Now().Add(-time.Second)
	resp, data := ts.do(t, "POST", "/api/v1/events", nil, `{"tags":["custom_tag"]}`) // no Content-Type: JSON
	mustStatus(t, resp, data, 201)
	var got wire.Event
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	if got.Type != wire.DefaultEventType || got.Timestamp.Before(before) || string(got.Value) != `""` {
		t.Errorf("defaults not applied: %s", data)
	}
}

func TestCreateEventYAMLInAndOut(t *testing.T) {
	ts := newTestServer(t)
	in := "tags:\n  - scales:large\nvalue:\n  cpu: 12.5\n  name: web\n  n: 7\n  ok: true\n  s: \"12\"\ntimestamp: 2017-01-10T15:33:49.766Z\ntype: archive\n"
	resp, data := ts.do(t, "POST", "/api/v1/events", yamlIO, in)
	mustStatus(t, resp, data, 201)
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-yaml" {
		t.Errorf("Content-Type %q", ct)
	}
	// Vamp's key order, the timestamp as an RFC 3339 string and the value as
	// plain YAML (a mapping, not a JSON string).
	keys := regexp.MustCompile(`(?m)^(\w+):`).FindAllStringSubmatch(string(data), -1)
	var order []string
	for _, k := range keys {
		order = append(order, k[1])
	}
	if want := []string{"id", "tags", "value", "timestamp", "type"}; !slices.Equal(order, want) {
		t.Errorf("top-level keys %q, want %q in\n%s", order, want, data)
	}
	var got struct {
		ID        uint64         `yaml:"id"`
		Tags      []string       `yaml:"tags"`
		Value     map[string]any `yaml:"value"`
		Timestamp string         `yaml:"timestamp"`
		Type      string         `yaml:"type"`
	}
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatalf("decode YAML %s: %v", data, err)
	}
	if got.ID != ts.s.store.LastID() || got.Type != "archive" || !slices.Equal(got.Tags, []string{"scales", "scales:large"}) {
		t.Errorf("stored event %+v", got)
	}
	if _, err := time.Parse(time.RFC3339Nano, got.Timestamp); err != nil || !strings.HasPrefix(got.Timestamp, "2017-01-10T15:33:49.766") {
		t.Errorf("timestamp %q: %v", got.Timestamp, err)
	}
	want := map[string]any{"cpu": 12.5, "name": "web", "n": 7, "ok": true, "s": "12"}
	if fmt.Sprint(got.Value) != fmt.Sprint(want) {
		t.Errorf("value %#v, want %#v", got.Value, want)
	}

	// A YAML list in: a YAML list out, all stored.
	resp, data = ts.do(t, "POST", "/api/v1/events", yamlIO, "- tags: [a]\n- tags: [b]\n  value: 3\n")
	mustStatus(t, resp, data, 201)
	var list []map[string]any
	if err := yaml.Unmarshal(data, &list); err != nil || len(list) != 2 {
		t.Fatalf("YAML list answer %s: %v", data, err)
	}
	if list[1]["value"] != 3 || list[0]["value"] != "" {
		t.Errorf("values %#v %#v", list[0]["value"], list[1]["value"])
	}

	// The list endpoint answers YAML too.
	resp, data = ts.do(t, "GET", "/api/v1/events", map[string]string{"Accept": "application/x-yaml"}, "")
	mustStatus(t, resp, data, 200)
	list = nil
	if err := yaml.Unmarshal(data, &list); err != nil || len(list) != 3 {
		t.Fatalf("YAML list %s: %v", data, err)
	}
	if list[0]["id"] != 3 || list[2]["id"] != 1 {
		t.Errorf("not newest first: %s", data)
	}
}

func TestCreateEventList(t *testing.T) {
	ts := newTestServer(t)
	resp, data := ts.do(t, "POST", "/api/v1/events", jsonCT, `[{"tags":["a"]},{"tags":["b:c"],"value":1}]`)
	mustStatus(t, resp, data, 201)
	evs := decodeEvents(t, data)
	if !slices.Equal(ids(evs), []uint64{1, 2}) || !slices.Equal(evs[1].Tags, []string{"b", "b:c"}) {
		t.Errorf("stored list %s", data)
	}
	if n := counterValue(t, ts.s.metrics.eventsIn.WithLabelValues("api")); n != 2 {
		t.Errorf("events_in{api} = %v, want 2", n)
	}
}

// TestCreateEventRejected checks that every bad request is refused with the
// right status and a message naming the problem, and that nothing is stored.
func TestCreateEventRejected(t *testing.T) {
	ts := newTestServer(t)
	ts.appendEvents(t, wire.Event{Tags: []string{"existing"}})
	big := `{"tags":["a"],"value":"` + strings.Repeat("x", body.MaxSize) + `"}`
	cases := []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		msg    string // must appear in the message
	}{
		{"no tags", jsonCT, `{"value":1}`, 400, "tags"},
		{"empty tag list", jsonCT, `{"tags":[]}`, 400, "tags"},
		{"empty tag", jsonCT, `{"tags":["a",""]}`, 400, "tags"},
		{"bad type", jsonCT, `{"tags":["a"],"type":"no spaces"}`, 400, "type"},
		{"bad timestamp", jsonCT, `{"tags":["a"],"timestamp":"yesterday"}`, 400, "timestamp"},
		{"malformed JSON", jsonCT, `{"tags":["a"]`, 400, ""},
		{"empty body", jsonCT, ``, 400, ""},
		{"empty list", jsonCT, `[]`, 400, ""},
		{"one bad event in a list", jsonCT, `[{"tags":["a"]},{"tags":["b"],"type":"b a d"}]`, 400, "type"},
		{"YAML alias bomb", map[string]string{"Content-Type": "application/x-yaml"},
			"a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\ntags: [*e]\n", 400, ""},
		{"too large", jsonCT, big, 413, "large"},
		{"unsupported content type", map[string]string{"Content-Type": "text/plain"}, `{"tags":["a"]}`, 415, "text/plain"},
		{"not acceptable", map[string]string{"Content-Type": "application/json", "Accept": "text/html"}, `{"tags":["a"]}`, 406, "acceptable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, data := ts.do(t, "POST", "/api/v1/events", c.hdr, c.body)
			mustStatus(t, resp, data, c.status)
			var m wire.Message
			if err := json.Unmarshal(data, &m); err != nil || m.Message == "" {
				t.Fatalf("want {\"message\"}, got %s (%v)", data, err)
			}
			if !strings.Contains(m.Message, c.msg) {
				t.Errorf("message %q does not mention %q", m.Message, c.msg)
			}
			if last := ts.s.store.LastID(); last != 1 {
				t.Errorf("something was stored: last id %d", last)
			}
		})
	}
	if n := counterValue(t, ts.s.metrics.eventsIn.WithLabelValues("api")); n != 0 {
		t.Errorf("events_in{api} = %v after refusals", n)
	}
}

func TestListTagsAndType(t *testing.T) {
	ts := newTestServer(t)
	ts.appendEvents(t,
		wire.Event{Tags: []string{"a"}},                       // 1
		wire.Event{Tags: []string{"a", "b"}},                  // 2
		wire.Event{Tags: []string{"b"}},                       // 3
		wire.Event{Tags: []string{"a", "b:c"}, Type: "other"}, // 4
		wire.Event{Tags: []string{"c"}, Type: "other"},        // 5
	)
	cases := []struct {
		query string
		want  []uint64
	}{
		{"", []uint64{5, 4, 3, 2, 1}},
		{"tag=a", []uint64{4, 2, 1}},
		{"tag=b", []uint64{4, 3, 2}}, // 4 through the expansion of b:c
		{"tag=a&tag=b", []uint64{4, 2}},
		{"tag=a&tag=b:c", []uint64{4}},
		{"tag=a&tag=c", nil},
		{"type=other", []uint64{5, 4}},
		{"type=other&tag=a", []uint64{4}},
		{"type=event&tag=b", []uint64{3, 2}},
		{"tag=nothing", nil},
	}
	for _, c := range cases {
		resp, data := ts.do(t, "GET", "/api/v1/events?"+c.query, nil, "")
		mustStatus(t, resp, data, 200)
		if strings.TrimSpace(string(data)) == "null" {
			t.Errorf("%s: null instead of []", c.query)
		}
		evs := decodeEvents(t, data)
		if got := ids(evs); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%s: ids %v, want %v", c.query, got, c.want)
		}
		if tc := resp.Header.Get("X-Total-Count"); tc != strconv.Itoa(len(c.want)) {
			t.Errorf("%s: X-Total-Count %q, want %d", c.query, tc, len(c.want))
		}
	}
}

// parseLinks reads an RFC 8288 Link header into rel → URL.
func parseLinks(t *testing.T, h string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if h == "" {
		return out
	}
	re := regexp.MustCompile(`^<([^>]*)>; rel="(\w+)"$`)
	for _, part := range strings.Split(h, ", ") {
		m := re.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("malformed link %q in %q", part, h)
		}
		out[m[2]] = m[1]
	}
	return out
}

// linkPage is the page a link points at, and the link's query.
func linkPage(t *testing.T, link string) (int, url.Values) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	if u.Path != "/api/v1/events" || u.Host != "" {
		t.Errorf("link %q is not a relative URL of the list", link)
	}
	q := u.Query()
	p, err := strconv.Atoi(q.Get("page"))
	if err != nil {
		t.Fatalf("link %q: page: %v", link, err)
	}
	return p, q
}

func TestListPagination(t *testing.T) {
	ts := newTestServer(t)
	var fixture []wire.Event
	for i := 0; i < 12; i++ {
		tag := "odd"
		if i%2 == 1 {
			tag = "even" // ids are 1-based: the second event has id 2
		}
		fixture = append(fixture, wire.Event{Tags: []string{"all", tag}})
	}
	fixture = append(fixture, wire.Event{Tags: []string{"ten", "extra"}})
	ts.appendEvents(t, fixture...) // ids 1..13; tag "all" on 1..12, "even" on 6 of them

	// links: rel → page; absent rels are absent.
	cases := []struct {
		name  string
		query string
		ids   []uint64
		total int
		links map[string]int
	}{
		{"empty", "tag=none&per_page=5", nil, 0, map[string]int{"first": 1, "last": 1}},
		{"one page", "tag=even", []uint64{12, 10, 8, 6, 4, 2}, 6, map[string]int{"first": 1, "last": 1}},
		{"exact multiple, first", "tag=even&per_page=3", []uint64{12, 10, 8}, 6, map[string]int{"first": 1, "next": 2, "last": 2}},
		{"exact multiple, last", "tag=even&per_page=3&page=2", []uint64{6, 4, 2}, 6, map[string]int{"first": 1, "prev": 1, "last": 2}},
		{"middle", "tag=all&per_page=5&page=2", []uint64{7, 6, 5, 4, 3}, 12, map[string]int{"first": 1, "prev": 1, "next": 3, "last": 3}},
		{"short last page", "tag=all&per_page=5&page=3", []uint64{2, 1}, 12, map[string]int{"first": 1, "prev": 2, "last": 3}},
		{"past the end", "tag=all&per_page=5&page=9", nil, 12, map[string]int{"first": 1, "prev": 3, "last": 3}},
		{"huge page", "tag=all&per_page=5&page=99999999999", nil, 12, map[string]int{"first": 1, "prev": 3, "last": 3}},
		{"page 0 is page 1", "tag=all&per_page=5&page=0", []uint64{12, 11, 10, 9, 8}, 12, map[string]int{"first": 1, "next": 2, "last": 3}},
		{"negative page is page 1", "page=-4&tag=all&per_page=5", []uint64{12, 11, 10, 9, 8}, 12, map[string]int{"first": 1, "next": 2, "last": 3}},
		{"default per_page", "", []uint64{13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 13, map[string]int{"first": 1, "last": 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, data := ts.do(t, "GET", "/api/v1/events?"+c.query, nil, "")
			mustStatus(t, resp, data, 200)
			if s := strings.TrimSpace(string(data)); c.ids == nil && s != "[]" {
				t.Errorf("empty page is %s, want []", s)
			}
			if got := ids(decodeEvents(t, data)); !slices.Equal(got, c.ids) && len(got)+len(c.ids) > 0 {
				t.Errorf("ids %v, want %v", got, c.ids)
			}
			if tc := resp.Header.Get("X-Total-Count"); tc != strconv.Itoa(c.total) {
				t.Errorf("X-Total-Count %q, want %d", tc, c.total)
			}
			links := parseLinks(t, resp.Header.Get("Link"))
			if len(links) != len(c.links) {
				t.Errorf("links %v, want rels %v", links, c.links)
			}
			orig, _ := url.ParseQuery(c.query)
			for rel, want := range c.links {
				link, ok := links[rel]
				if !ok {
					t.Errorf("no %s link in %q", rel, resp.Header.Get("Link"))
					continue
				}
				p, q := linkPage(t, link)
				if p != want {
					t.Errorf("%s link %q: page %d, want %d", rel, link, p, want)
				}
				// Every other parameter is kept.
				for k, v := range orig {
					if k != "page" && !slices.Equal(q[k], v) {
						t.Errorf("%s link %q lost %s=%v", rel, link, k, v)
					}
				}
			}
		})
	}
}

func TestListLinksKeepParameterOrder(t *testing.T) {
	ts := newTestServer(t)
	ts.appendEvents(t, wire.Event{Tags: []string{"a b"}}, wire.Event{Tags: []string{"a b"}}, wire.Event{Tags: []string{"a b"}})
	resp, data := ts.do(t, "GET", "/api/v1/events?tag=a+b&page=2&per_page=1&type=event&tag=a%20b", nil, "")
	mustStatus(t, resp, data, 200)
	links := parseLinks(t, resp.Header.Get("Link"))
	want := map[string]string{
		"first": "/api/v1/events?tag=a+b&page=1&per_page=1&type=event&tag=a%20b",
		"prev":  "/api/v1/events?tag=a+b&page=1&per_page=1&type=event&tag=a%20b",
		"next":  "/api/v1/events?tag=a+b&page=3&per_page=1&type=event&tag=a%20b",
		"last":  "/api/v1/events?tag=a+b&page=3&per_page=1&type=event&tag=a%20b",
	}
	for rel, w := range want {
		if links[rel] != w {
			t.Errorf("%s: %q, want %q", rel, links[rel], w)
		}
	}
	// Without page in the query, links add it at the end.
	resp, data = ts.do(t, "GET", "/api/v1/events?per_page=2", nil, "")
	mustStatus(t, resp, data, 200)
	if got := parseLinks(t, resp.Header.Get("Link"))["next"]; got != "/api/v1/events?per_page=2&page=2" {
		t.Errorf("next %q", got)
	}
}

func TestListPerPageClamped(t *testing.T) {
	ts := newTestServer(t)
	fixture := make([]wire.Event, store.MaxPerPage+1)
	for i := range fixture {
		fixture[i] = wire.Event{Tags: []string{"bulk"}}
	}
	ts.appendEvents(t, fixture...)
	resp, data := ts.do(t, "GET", fmt.Sprintf("/api/v1/events?per_page=%d", store.MaxPerPage*5), nil, "")
	mustStatus(t, resp, data, 200)
	if n := len(decodeEvents(t, data)); n != store.MaxPerPage {
		t.Errorf("%d events, want the maximum %d", n, store.MaxPerPage)
	}
	links := parseLinks(t, resp.Header.Get("Link"))
	p, q := linkPage(t, links["next"])
	if p != 2 || q.Get("per_page") != strconv.Itoa(store.MaxPerPage) {
		t.Errorf("next %q: want page 2 with the clamped per_page", links["next"])
	}
	if p, _ := linkPage(t, links["last"]); p != 2 {
		t.Errorf("last page %d, want 2", p)
	}
}

func TestListBadQuery(t *testing.T) {
	ts := newTestServer(t)
	for _, q := range []string{
		"page=abc", "per_page=x", "lt=1&lte=2", "gt=1&gte=2", "lt=tomorrow",
		"aggregator=median&field=cpu", "aggregator=average", "field=cpu", "type=a%20b",
		"tag=", "bad=%zz",
	} {
		resp, data := ts.do(t, "GET", "/api/v1/events?"+q, nil, "")
		mustStatus(t, resp, data, 400)
		var m wire.Message
		if err := json.Unmarshal(data, &m); err != nil || m.Message == "" {
			t.Errorf("%s: want {\"message\"}, got %s", q, data)
		}
	}
	resp, data := ts.do(t, "GET", "/api/v1/events", map[string]string{"Accept": "text/html"}, "")
	mustStatus(t, resp, data, 406)
}

// rangeFixture stores five events one minute apart from base, with a
// numeric value field, and returns base.
func rangeFixture(t *testing.T, ts *eventsTestServer) time.Time {
	t.Helper()
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var evs []wire.Event
	for i := 0; i < 5; i++ {
		evs = append(evs, wire.Event{
			Tags:      []string{"m"},
			Type:      "metrics",
			Timestamp: base.Add(time.Duration(i) * time.Minute),
			Value:     json.RawMessage(fmt.Sprintf(`{"cpu":%d}`, (i+1)*10)), // 10..50
		})
	}
	evs = append(evs, wire.Event{Tags: []string{"other"}, Timestamp: base, Value: json.RawMessage(`{"cpu":1000}`)})
	ts.appendEvents(t, evs...)
	return base
}

func TestListTimestampRange(t *testing.T) {
	ts := newTestServer(t)
	base := rangeFixture(t, ts)
	at := func(minutes int) string {
		return url.QueryEscape(base.Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339))
	}
	unix := func(minutes int) string {
		return strconv.FormatInt(base.Add(time.Duration(minutes)*time.Minute).Unix(), 10)
	}
	cases := []struct {
		query string
		want  []uint64
	}{
		{"tag=m&gte=" + at(1) + "&lt=" + at(3), []uint64{3, 2}},
		{"tag=m&gt=" + at(1) + "&lte=" + at(3), []uint64{4, 3}},
		{"tag=m&gte=" + unix(3), []uint64{5, 4}},
		{"tag=m&lt=" + unix(1), []uint64{1}},
		{"tag=m&gt=" + at(9), nil},
	}
	for _, c := range cases {
		resp, data := ts.do(t, "GET", "/api/v1/events?"+c.query, nil, "")
		mustStatus(t, resp, data, 200)
		if got := ids(decodeEvents(t, data)); !slices.Equal(got, c.want) && len(got)+len(c.want) > 0 {
			t.Errorf("%s: ids %v, want %v", c.query, got, c.want)
		}
	}
}

func TestListAggregatorByQuery(t *testing.T) {
	ts := newTestServer(t)
	base := rangeFixture(t, ts)
	cases := []struct {
		query string
		want  string
	}{
		{"tag=m&aggregator=average&field=cpu", `{"type":"average","field":"cpu","value":30}`},
		{"tag=m&aggregator=min&field=cpu", `{"type":"min","field":"cpu","value":10}`},
		{"tag=m&aggregator=max&field=cpu", `{"type":"max","field":"cpu","value":50}`},
		{"tag=m&aggregator=count", `{"type":"count","value":5}`},
		{"aggregator=count", `{"type":"count","value":6}`},
		{"aggregator=count&field=cpu", `{"type":"count","field":"cpu","value":6}`},
		{"aggregator=count&field=mem", `{"type":"count","field":"mem","value":0}`},
		{"aggregator=average&field=mem", `{"type":"average","field":"mem","value":0}`},
		{"aggregator=max&field=cpu", `{"type":"max","field":"cpu","value":1000}`},
		{"tag=m&aggregator=average&field=cpu&gte=" + url.QueryEscape(base.Add(3*time.Minute).Format(time.RFC3339)), `{"type":"average","field":"cpu","value":45}`},
	}
	for _, c := range cases {
		resp, data := ts.do(t, "GET", "/api/v1/events?"+c.query, nil, "")
		mustStatus(t, resp, data, 200)
		if got := strings.TrimSpace(string(data)); got != c.want {
			t.Errorf("%s: %s, want %s", c.query, got, c.want)
		}
	}
	resp, data := ts.do(t, "GET", "/api/v1/events?tag=m&aggregator=max&field=cpu", map[string]string{"Accept": "application/x-yaml"}, "")
	mustStatus(t, resp, data, 200)
	if got := string(data); got != "type: max\nfield: cpu\nvalue: 50\n" {
		t.Errorf("YAML aggregate %q", got)
	}
}

func TestListSearchBody(t *testing.T) {
	ts := newTestServer(t)
	base := rangeFixture(t, ts)
	ts3 := base.Add(3 * time.Minute).Format(time.RFC3339)
	cases := []struct {
		name  string
		query string
		hdr   map[string]string
		body  string
		want  string // JSON of the answer: ids list or aggregate
	}{
		{"type by body", "", jsonCT, `{"type":"metrics"}`, "[5,4,3,2,1]"},
		{"tags by body", "", jsonCT, `{"tags":["other"]}`, "[6]"},
		{"tags of query and body AND", "tag=m", jsonCT, `{"tags":["other"]}`, "[]"},
		{"range by body", "tag=m", jsonCT, `{"timestamp":{"gte":"` + ts3 + `"}}`, "[5,4]"},
		{"range by YAML body", "tag=m", map[string]string{"Content-Type": "application/x-yaml"}, "timestamp:\n  lt: " + ts3 + "\n", "[3,2,1]"},
		{"aggregator by body", "tag=m", jsonCT, `{"aggregator":{"type":"average","field":"cpu"}}`, `{"type":"average","field":"cpu","value":30}`},
		{"same value in both", "type=metrics&tag=m", jsonCT, `{"type":"metrics","aggregator":{"type":"count"}}`, `{"type":"count","value":5}`},
		{"empty body", "tag=other", jsonCT, "  ", "[6]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, data := ts.do(t, "GET", "/api/v1/events?"+c.query, c.hdr, c.body)
			mustStatus(t, resp, data, 200)
			got := strings.TrimSpace(string(data))
			if strings.HasPrefix(got, "[") {
				b, _ := json.Marshal(ids(decodeEvents(t, data)))
				got = string(b)
				if got == "null" {
					got = "[]"
				}
			}
			if got != c.want {
				t.Errorf("%s, want %s", got, c.want)
			}
		})
	}
	for _, c := range []struct{ name, query, ct, body string }{
		{"different type in both", "type=event", "application/json", `{"type":"metrics"}`},
		{"lt in query, lte in body", "lt=" + url.QueryEscape(ts3), "application/json", `{"timestamp":{"lte":"` + ts3 + `"}}`},
		{"different aggregators", "aggregator=count", "application/json", `{"aggregator":{"type":"max","field":"cpu"}}`},
		{"malformed body", "", "application/json", `{"type":`},
		{"bad aggregator in body", "", "application/json", `{"aggregator":{"type":"median","field":"cpu"}}`},
	} {
		resp, data := ts.do(t, "GET", "/api/v1/events?"+c.query, map[string]string{"Content-Type": c.ct}, c.body)
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400; %s", c.name, resp.StatusCode, data)
		}
	}
	resp, data := ts.do(t, "GET", "/api/v1/events", map[string]string{"Content-Type": "text/plain"}, `{"type":"metrics"}`)
	mustStatus(t, resp, data, 415)
	resp, data = ts.do(t, "GET", "/api/v1/events", jsonCT, `{"tags":["`+strings.Repeat("x", body.MaxSize)+`"]}`)
	mustStatus(t, resp, data, 413)
}
