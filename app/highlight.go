package main

import (
	"html"
	"strings"
	"unicode/utf8"
)

// matchRanges finds every non-overlapping case-insensitive occurrence of q
// in text, as byte ranges [start, end).
func matchRanges(text, q string) [][2]int {
	if q == "" || len(q) > len(text) {
		return nil
	}
	var out [][2]int
	for i := 0; i+len(q) <= len(text); {
		if strings.EqualFold(text[i:i+len(q)], q) {
			out = append(out, [2]int{i, i + len(q)})
			i += len(q)
			continue
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	return out
}

// lineHTML renders one log line: its ANSI runs as spans, with the matches
// of q wrapped in <mark>. Runs are cut where a match starts or ends (a match
// may cross colours), and each piece is its own element, so the markup always
// nests. Everything is escaped: the text is the container's and must never
// become markup.
func lineHTML(spans []ansiSpan, q string) string {
	var plain strings.Builder
	for _, sp := range spans {
		plain.WriteString(sp.text)
	}
	marks := matchRanges(plain.String(), q)
	var b strings.Builder
	pos, m := 0, 0 // byte offset in the plain text; the next or current match
	for _, sp := range spans {
		class, style := sp.style.attrs()
		for text := sp.text; len(text) > 0; {
			for m < len(marks) && marks[m][1] <= pos {
				m++
			}
			cut, marked := len(text), false
			if m < len(marks) {
				start, end := marks[m][0], marks[m][1]
				switch {
				case start <= pos: // inside a match
					marked = true
					cut = min(cut, end-pos)
				case start < pos+cut: // a match starts inside this run
					cut = start - pos
				}
			}
			writePiece(&b, text[:cut], class, style, marked)
			text = text[cut:]
			pos += cut
		}
	}
	return b.String()
}

// writePiece writes one run of text with its style, inside <mark> when it
// matches the search.
func writePiece(b *strings.Builder, text, class, style string, marked bool) {
	if marked {
		b.WriteString("<mark>")
	}
	open := class != "" || style != ""
	if open {
		b.WriteString("<span")
		if class != "" {
			b.WriteString(` class="` + class + `"`)
		}
		if style != "" {
			b.WriteString(` style="` + style + `"`)
		}
		b.WriteString(">")
	}
	b.WriteString(html.EscapeString(text))
	if open {
		b.WriteString("</span>")
	}
	if marked {
		b.WriteString("</mark>")
	}
}
