package main

import (
	"net/url"
	"reflect"
	"testing"
)

func TestEventFilterRoundTrip(t *testing.T) {
	q, err := url.ParseQuery("container=web&container=+db+&container=web&image=nginx&event=die&event=oom&label=env=prod&host=Localhost&since=1h&unrelated=x")
	if err != nil {
		t.Fatal(err)
	}
	f := eventFilterFromQuery(q)
	want := eventFilter{
		Containers: []string{"web", "db"}, Images: []string{"nginx"}, Events: []string{"die", "oom"},
		Labels: []string{"env=prod"}, Hosts: []string{"Localhost"}, Since: "1h",
	}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("from query = %+v", f)
	}
	if got := f.query().Encode(); got != "container=web&container=db&event=die&event=oom&host=Localhost&image=nginx&label=env%3Dprod&since=1h" {
		t.Errorf("query = %s", got)
	}
	if again := eventFilterFromQuery(f.query()); !reflect.DeepEqual(again, f) {
		t.Errorf("round trip = %+v", again)
	}
}

func TestEventFilterSocketQuery(t *testing.T) {
	f := eventFilter{Containers: []string{"web"}, Events: []string{"die"}, Labels: []string{"a=b", "c"}, Since: "24h"}
	q := f.socketQuery(0)
	if got := q.Get("filters"); got != `{"container":["web"],"event":["die"],"label":["a=b","c"]}` {
		t.Errorf("filters = %s", got)
	}
	if q.Get("since") != "24h" {
		t.Errorf("since = %q", q.Get("since"))
	}
	// On reconnect the position of the last event seen wins over the window.
	if q := f.socketQuery(42); q.Get("after") != "42" || q.Has("since") {
		t.Errorf("resume query = %v, want after=42 and no since", q)
	}
	if q := (eventFilter{}).socketQuery(0); len(q) != 0 {
		t.Errorf("empty filter query = %v", q)
	}
}

func TestSplitList(t *testing.T) {
	if got := splitList(" a, b  c,,a\n"); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("splitList = %q", got)
	}
}

func TestParseLinkHeader(t *testing.T) {
	h := `</api/v1/events?page=1&per_page=30&tag=a,b>; rel="first", </api/v1/events?page=2&per_page=30>; rel="prev", ` +
		`</api/v1/events?page=4&per_page=30>; rel="next",</api/v1/events?page=9&per_page=30>; rel=last`
	links := parseLinkHeader(h)
	if len(links) != 4 {
		t.Fatalf("links = %v", links)
	}
	for rel, page := range map[string]int{"first": 1, "prev": 2, "next": 4, "last": 9} {
		if got := linkPage(links[rel]); got != page {
			t.Errorf("%s → page %d, want %d (%s)", rel, got, page, links[rel])
		}
	}
	if links["first"] != "/api/v1/events?page=1&per_page=30&tag=a,b" {
		t.Errorf("comma inside a URL split the link: %q", links["first"])
	}
	if multi := parseLinkHeader(`</p?page=1>; rel="first prev"`); multi["first"] == "" || multi["prev"] == "" {
		t.Errorf("several relations: %v", multi)
	}
	if len(parseLinkHeader("")) != 0 || linkPage("") != 0 {
		t.Error("empty header gave links")
	}
}

func TestEventFilterFromJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"container":["web"],"event":["die","oom"],"label":["a=b"],"type":["container"]}`, `{"container":["web"],"event":["die","oom"],"label":["a=b"]}`},
		{`{"event":{"oom":true,"die":true,"kill":false},"host":{"Localhost":true}}`, `{"event":["die","oom"],"host":["Localhost"]}`},
		{``, ``},
		{`not json`, ``},
	} {
		if got := eventFilterFromJSON([]byte(c.in)).filtersJSON(); got != c.want {
			t.Errorf("%s: filters %s, want %s", c.in, got, c.want)
		}
	}
}
