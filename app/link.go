package main

import (
	"net/url"
	"strconv"
	"strings"
)

// parseLinkHeader reads an RFC 8288 Link header into its relations:
// `<url>; rel="next", <url>; rel="last"` → {"next": url, "last": url}. A
// link may name several relations (rel="prev first").
func parseLinkHeader(h string) map[string]string {
	out := map[string]string{}
	for _, part := range splitLinks(h) {
		part = strings.TrimSpace(part)
		if !strings.HasPrefix(part, "<") {
			continue
		}
		end := strings.IndexByte(part, '>')
		if end < 0 {
			continue
		}
		target := part[1:end]
		for param := range strings.SplitSeq(part[end+1:], ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(param), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
				continue
			}
			for rel := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(v), `"`)) {
				out[strings.ToLower(rel)] = target
			}
		}
	}
	return out
}

// splitLinks splits a Link header at the commas between links, not at
// commas inside a <url>.
func splitLinks(h string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, h[start:i])
				start = i + 1
			}
		}
	}
	return append(out, h[start:])
}

// linkPage is the page number a pagination link points at (its "page"
// query parameter), or 0 when it names none.
func linkPage(link string) int {
	u, err := url.Parse(link)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(u.Query().Get("page"))
	if err != nil {
		return 0
	}
	return n
}
