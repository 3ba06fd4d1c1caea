package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// eventFilter is the events page's filter builder: the /events/ws filters
// and the history window. It lives in the page's URL query (one parameter
// per value, so a link reproduces the view) and becomes the socket's filters
// JSON in Docker's {"key":["value"]} form.
type eventFilter struct {
	Containers []string
	Images     []string
	Events     []string
	Labels     []string
	Hosts      []string
	Since      string // a duration back from now ("1h"), or "" for live only
}

// eventFilterKeys pairs each /events/ws filter key with its field.
func (f *eventFilter) keys() []struct {
	key  string
	vals *[]string
} {
	return []struct {
		key  string
		vals *[]string
	}{
		{"container", &f.Containers},
		{"image", &f.Images},
		{"event", &f.Events},
		{"label", &f.Labels},
		{"host", &f.Hosts},
	}
}

// eventFilterFromQuery reads a filter from a page URL's query. Values are
// trimmed and deduplicated; empty ones are dropped.
func eventFilterFromQuery(q url.Values) eventFilter {
	var f eventFilter
	for _, k := range f.keys() {
		*k.vals = cleanValues(q[k.key])
	}
	f.Since = strings.TrimSpace(q.Get("since"))
	return f
}

// cleanValues trims, drops empties and duplicates, keeping the first order.
func cleanValues(in []string) []string {
	var out []string
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// query is the page URL's query for f.
func (f eventFilter) query() url.Values {
	q := url.Values{}
	for _, k := range f.keys() {
		for _, v := range *k.vals {
			q.Add(k.key, v)
		}
	}
	if f.Since != "" {
		q.Set("since", f.Since)
	}
	return q
}

// filtersJSON is the value of /events/ws's filters parameter, or "" when
// nothing is filtered. encoding/json sorts map keys, so equal filters give
// equal strings.
func (f eventFilter) filtersJSON() string {
	m := map[string][]string{}
	for _, k := range f.keys() {
		if len(*k.vals) > 0 {
			m[k.key] = *k.vals
		}
	}
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		// A map of string slices always marshals; keep the socket unfiltered
		// rather than sending a broken parameter.
		return ""
	}
	return string(b)
}

// socketQuery is the /events/ws query: filters, and since — the resume
// point when one is given (the time of the last event seen + 1 ns, so a
// reconnect neither repeats nor misses an event), else the history window.
func (f eventFilter) socketQuery(after uint64) url.Values {
	q := url.Values{}
	if j := f.filtersJSON(); j != "" {
		q.Set("filters", j)
	}
	switch {
	case after > 0:
		// A reconnect resumes exactly after the last event seen, whatever
		// the engines' clocks say.
		q.Set("after", strconv.FormatUint(after, 10))
	case f.Since != "":
		q.Set("since", f.Since)
	}
	return q
}

// splitList reads a free-text list as users type it: commas or whitespace
// between values.
func splitList(s string) []string {
	return cleanValues(strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }))
}

// dockerActions are the container actions the event filter offers, in the
// order Docker documents them.
var dockerActions = []string{
	"attach", "commit", "copy", "create", "destroy", "detach", "die", "exec_create",
	"exec_detach", "exec_start", "exec_die", "export", "health_status", "kill", "oom",
	"pause", "rename", "resize", "restart", "start", "stop", "top", "unpause", "update",
}

// eventFilterFromJSON reads /events/ws filter JSON, in either of Docker's
// forms ({"key":["value"]} or {"key":{"value":true}}), into the filter
// builder. Keys it has no field for ("type") are left out: the builder
// shows container filters only.
func eventFilterFromJSON(raw []byte) eventFilter {
	var f eventFilter
	if len(raw) == 0 {
		return f
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return f
	}
	for _, k := range f.keys() {
		v, ok := m[k.key]
		if !ok {
			continue
		}
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			var set map[string]bool
			if json.Unmarshal(v, &set) != nil {
				continue
			}
			for s, on := range set {
				if on {
					list = append(list, s)
				}
			}
			slices.Sort(list) // a map's order is random
		}
		*k.vals = cleanValues(list)
	}
	return f
}
