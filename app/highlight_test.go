package main

import (
	"reflect"
	"testing"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

func TestMatchRanges(t *testing.T) {
	for _, tc := range []struct {
		text, q string
		want    [][2]int
	}{
		{"Error error ERROR", "error", [][2]int{{0, 5}, {6, 11}, {12, 17}}},
		{"aaaa", "aa", [][2]int{{0, 2}, {2, 4}}},
		{"abc", "", nil},
		{"ab", "abc", nil},
		{"héllo wörld", "WÖR", [][2]int{{7, 11}}},
	} {
		if got := matchRanges(tc.text, tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("matchRanges(%q, %q) = %v, want %v", tc.text, tc.q, got, tc.want)
		}
	}
}

func TestLineHTML(t *testing.T) {
	for _, tc := range []struct {
		name, line, q, want string
	}{
		{"escapes", "<b>&", "", "&lt;b&gt;&amp;"},
		{"mark", "disk full", "FULL", "disk <mark>full</mark>"},
		{"colour", "\x1b[31mfail\x1b[0m ok", "", `<span class="ansi-fg1">fail</span> ok`},
		{"mark across colours", "\x1b[31mab\x1b[32mcd", "bc",
			`<span class="ansi-fg1">a</span><mark><span class="ansi-fg1">b</span></mark><mark><span class="ansi-fg2">c</span></mark><span class="ansi-fg2">d</span>`},
		{"escaped match", "a<b", "<", "a<mark>&lt;</mark>b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lineHTML(parseANSI(tc.line), tc.q); got != tc.want {
				t.Errorf("lineHTML(%q, %q) =\n %s\nwant\n %s", tc.line, tc.q, got, tc.want)
			}
		})
	}
}

// The log row renders as one raw element whose markup the test can match
// with go-app's helpers.
func TestLogRowRenders(t *testing.T) {
	p := &logsPage{view: "container", search: "boom"}
	row := app.Raw(p.rowHTML(logLine{stream: "stderr", text: "\x1b[1mboom\x1b[0m"}))
	want := app.Raw(`<div class="ln ln-stderr"><span class="ln-text"><mark><span class="ansi-bold">boom</span></mark></span></div>`)
	if err := app.TestMatch(row, app.TestUIDescriptor{Expected: want}); err != nil {
		t.Error(err)
	}
}
