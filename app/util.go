package main

import (
	"html"
	"sort"
)

// sortedKeys is the keys of m in order, for stable rendering.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// htmlEscape escapes text for Raw markup.
func htmlEscape(s string) string { return html.EscapeString(s) }
