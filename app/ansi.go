package main

import (
	"strconv"
	"strings"
)

// ansiColor is one colour of an SGR attribute: none (the theme's default),
// an index into the 256-colour palette, or a 24-bit RGB value.
type ansiColor struct {
	kind    uint8 // colorNone, colorIndex or colorRGB
	idx     uint8
	r, g, b uint8
}

const (
	colorNone uint8 = iota
	colorIndex
	colorRGB
)

// sgrStyle is the graphic rendition in effect for a run of text.
type sgrStyle struct {
	fg, bg    ansiColor
	bold      bool
	dim       bool
	italic    bool
	underline bool
	inverse   bool
}

// ansiSpan is a run of text drawn with one style.
type ansiSpan struct {
	text  string
	style sgrStyle
}

// parseANSI splits a log line into styled runs. Only SGR sequences
// (ESC [ … m) change the style; every other escape sequence (cursor moves,
// erase, OSC titles and hyperlinks) is dropped, because a log viewer has no
// cursor and showing them raw would be noise. Each line starts unstyled:
// programs that colour their logs reset at the end of a line, and carrying a
// style across lines would colour the rest of the view after a truncated one.
func parseANSI(s string) []ansiSpan {
	if !strings.ContainsRune(s, 0x1b) {
		return []ansiSpan{{text: s}}
	}
	var spans []ansiSpan
	var st sgrStyle
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			spans = append(spans, ansiSpan{text: text.String(), style: st})
			text.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != 0x1b {
			text.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			break // a lone ESC at the end: drop it
		}
		switch s[i+1] {
		case '[': // CSI: parameters, intermediates, one final byte in 0x40–0x7e
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			if j >= len(s) {
				i = len(s) // unterminated: drop the rest of the sequence
				continue
			}
			if s[j] == 'm' {
				flush()
				st = applySGR(st, s[i+2:j])
			}
			i = j + 1
		case ']': // OSC: up to BEL or ST (ESC \)
			j := i + 2
			for j < len(s) && s[j] != 0x07 && !(s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\') {
				j++
			}
			switch {
			case j >= len(s):
				i = len(s)
			case s[j] == 0x07:
				i = j + 1
			default:
				i = j + 2
			}
		default: // a two-byte escape (ESC c, ESC 7…)
			i += 2
		}
	}
	flush()
	return spans
}

// applySGR returns st changed by the parameters of one SGR sequence
// ("1;31", "38;5;208", "38;2;255;128;0", "" which means reset).
func applySGR(st sgrStyle, params string) sgrStyle {
	if params == "" {
		return sgrStyle{}
	}
	fields := strings.FieldsFunc(params, func(r rune) bool { return r == ';' || r == ':' })
	nums := make([]int, len(fields))
	for i, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			n = -1 // unknown: ignored below
		}
		nums[i] = n
	}
	for i := 0; i < len(nums); i++ {
		n := nums[i]
		switch {
		case n == 0:
			st = sgrStyle{}
		case n == 1:
			st.bold = true
		case n == 2:
			st.dim = true
		case n == 3:
			st.italic = true
		case n == 4:
			st.underline = true
		case n == 7:
			st.inverse = true
		case n == 22:
			st.bold, st.dim = false, false
		case n == 23:
			st.italic = false
		case n == 24:
			st.underline = false
		case n == 27:
			st.inverse = false
		case n >= 30 && n <= 37:
			st.fg = ansiColor{kind: colorIndex, idx: uint8(n - 30)}
		case n >= 90 && n <= 97:
			st.fg = ansiColor{kind: colorIndex, idx: uint8(n - 90 + 8)}
		case n == 39:
			st.fg = ansiColor{}
		case n >= 40 && n <= 47:
			st.bg = ansiColor{kind: colorIndex, idx: uint8(n - 40)}
		case n >= 100 && n <= 107:
			st.bg = ansiColor{kind: colorIndex, idx: uint8(n - 100 + 8)}
		case n == 49:
			st.bg = ansiColor{}
		case n == 38 || n == 48:
			c, used := extendedColor(nums[i+1:])
			i += used
			if n == 38 {
				st.fg = c
			} else {
				st.bg = c
			}
		}
	}
	return st
}

// extendedColor reads the arguments after 38 or 48: "5;n" or "2;r;g;b". It
// returns the colour and how many numbers it consumed.
func extendedColor(args []int) (ansiColor, int) {
	if len(args) >= 2 && args[0] == 5 {
		return ansiColor{kind: colorIndex, idx: clampByte(args[1])}, 2
	}
	if len(args) >= 4 && args[0] == 2 {
		return ansiColor{kind: colorRGB, r: clampByte(args[1]), g: clampByte(args[2]), b: clampByte(args[3])}, 4
	}
	return ansiColor{}, len(args) // malformed: swallow the rest rather than misread it
}

func clampByte(n int) uint8 {
	return uint8(min(max(n, 0), 255))
}

// stripANSI is s without escape sequences: what search matches and what a
// download contains.
func stripANSI(s string) string {
	if !strings.ContainsRune(s, 0x1b) {
		return s
	}
	var b strings.Builder
	for _, sp := range parseANSI(s) {
		b.WriteString(sp.text)
	}
	return b.String()
}

// classes and inline style of a span. The 16 base colours are classes so the
// stylesheet can tune them for the light and dark themes; the 256-colour
// cube and RGB colours are inline, being exact by definition.
func (st sgrStyle) attrs() (class, style string) {
	fg, bg := st.fg, st.bg
	if st.inverse {
		fg, bg = bg, fg
		if fg.kind == colorNone {
			class += " ansi-inv-fg"
		}
		if bg.kind == colorNone {
			class += " ansi-inv-bg"
		}
	}
	var css strings.Builder
	colorAttr := func(c ansiColor, prefix, prop string) {
		switch {
		case c.kind == colorIndex && c.idx < 16:
			class += " ansi-" + prefix + strconv.Itoa(int(c.idx))
		case c.kind != colorNone:
			css.WriteString(prop + ":" + c.css() + ";")
		}
	}
	colorAttr(fg, "fg", "color")
	colorAttr(bg, "bg", "background-color")
	if st.bold {
		class += " ansi-bold"
	}
	if st.dim {
		class += " ansi-dim"
	}
	if st.italic {
		class += " ansi-italic"
	}
	if st.underline {
		class += " ansi-underline"
	}
	return strings.TrimSpace(class), css.String()
}

// css is the colour as a CSS value; palette entries 16–255 follow xterm.
func (c ansiColor) css() string {
	r, g, b := c.r, c.g, c.b
	if c.kind == colorIndex {
		r, g, b = xterm256(c.idx)
	}
	return "rgb(" + strconv.Itoa(int(r)) + "," + strconv.Itoa(int(g)) + "," + strconv.Itoa(int(b)) + ")"
}

// xterm256 is the RGB of a palette entry ≥ 16: the 6×6×6 cube, then 24 greys.
func xterm256(i uint8) (r, g, b uint8) {
	if i >= 232 {
		v := 8 + 10*(i-232)
		return v, v, v
	}
	if i < 16 {
		return 0, 0, 0 // classes handle these; not reached
	}
	i -= 16
	level := func(n uint8) uint8 {
		if n == 0 {
			return 0
		}
		return 55 + 40*n
	}
	return level(i / 36), level(i / 6 % 6), level(i % 6)
}
