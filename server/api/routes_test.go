package api

import "testing"

// TestEveryRouteDocumented checks that routeDocs and the route table agree:
// every route has an entry with a summary, once, and no entry documents a
// route that is not served.
func TestEveryRouteDocumented(t *testing.T) {
	served := map[string]bool{}
	for _, rt := range Routes() {
		if served[rt.Key()] {
			t.Errorf("%s: twice in the route table", rt.Key())
		}
		served[rt.Key()] = true
		doc, ok := routeDocs[rt.Key()]
		switch {
		case !ok:
			t.Errorf("%s: no entry in routeDocs", rt.Key())
		case doc.Summary == "":
			t.Errorf("%s: no summary in routeDocs", rt.Key())
		}
	}
	for key := range routeDocs {
		if !served[key] {
			t.Errorf("routeDocs documents %s, which is not in the route table", key)
		}
	}
}
