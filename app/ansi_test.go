package main

import (
	"reflect"
	"testing"
)

func TestParseANSI(t *testing.T) {
	red := sgrStyle{fg: ansiColor{kind: colorIndex, idx: 1}}
	for _, tc := range []struct {
		name string
		in   string
		want []ansiSpan
	}{
		{"plain", "hello", []ansiSpan{{text: "hello"}}},
		{"colour and reset", "a\x1b[31mred\x1b[0mb", []ansiSpan{{text: "a"}, {text: "red", style: red}, {text: "b"}}},
		{"empty params reset", "\x1b[31mx\x1b[my", []ansiSpan{{text: "x", style: red}, {text: "y"}}},
		{"bold bright", "\x1b[1;92mok", []ansiSpan{{text: "ok", style: sgrStyle{bold: true, fg: ansiColor{kind: colorIndex, idx: 10}}}}},
		{"256 colour", "\x1b[38;5;208mo", []ansiSpan{{text: "o", style: sgrStyle{fg: ansiColor{kind: colorIndex, idx: 208}}}}},
		{"truecolor bg", "\x1b[48;2;1;2;3mo", []ansiSpan{{text: "o", style: sgrStyle{bg: ansiColor{kind: colorRGB, r: 1, g: 2, b: 3}}}}},
		{"non-SGR CSI dropped", "a\x1b[2Kb\x1b[1;1Hc", []ansiSpan{{text: "abc"}}},
		{"OSC title dropped", "\x1b]0;title\x07text", []ansiSpan{{text: "text"}}},
		{"OSC with ST", "\x1b]8;;http://x\x1b\\link", []ansiSpan{{text: "link"}}},
		{"unterminated", "ok\x1b[31", []ansiSpan{{text: "ok"}}},
		{"default fg", "\x1b[31;39mx", []ansiSpan{{text: "x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseANSI(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseANSI(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestStripANSI(t *testing.T) {
	if got := stripANSI("\x1b[1;31mERROR\x1b[0m boom"); got != "ERROR boom" {
		t.Errorf("stripANSI = %q", got)
	}
}

func TestSpanAttrs(t *testing.T) {
	class, style := sgrStyle{bold: true, fg: ansiColor{kind: colorIndex, idx: 9}}.attrs()
	if class != "ansi-fg9 ansi-bold" || style != "" {
		t.Errorf("bright red bold: class %q style %q", class, style)
	}
	class, style = sgrStyle{fg: ansiColor{kind: colorIndex, idx: 196}}.attrs()
	if class != "" || style != "color:rgb(255,0,0);" {
		t.Errorf("palette 196: class %q style %q", class, style)
	}
	_, style = sgrStyle{bg: ansiColor{kind: colorIndex, idx: 232}}.attrs()
	if style != "background-color:rgb(8,8,8);" {
		t.Errorf("grey 232: style %q", style)
	}
}
