package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

func TestDisplayTags(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"container", "container:web", "image", "image:nginx:1.27"}, []string{"container:web", "image:nginx:1.27"}},
		{[]string{"deploy"}, []string{"deploy"}},                             // alone: kept
		{[]string{"env", "deploy:web"}, []string{"env", "deploy:web"}},       // not covered
		{[]string{"host:a", "host", "host:b"}, []string{"host:a", "host:b"}}, // one plain tag, two combined
		{[]string{"a:b", "a:b:c", "a"}, []string{"a:b", "a:b:c"}},            // only plain tags are dropped
		{nil, []string{}},
	} {
		if got := displayTags(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("displayTags(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValueText(t *testing.T) {
	for in, want := range map[string]string{
		"": "—", "null": "—", `""`: "—", ` "" `: "—",
		`"x"`: `"x"`, `0`: `0`, `{"v":1}`: `{"v":1}`,
	} {
		if got := valueText(json.RawMessage(in)); got != want {
			t.Errorf("valueText(%q) = %q, want %q", in, got, want)
		}
	}
	if valueTitle(json.RawMessage(`""`)) != "" {
		t.Error("an empty value has a tooltip")
	}
}

// Tags render as links that filter by the tag shown.
func TestTagsView(t *testing.T) {
	h := app.HTMLString(tagsView([]string{"container", "container:web"}))
	if strings.Count(h, `class="tag"`) != 1 || !strings.Contains(h, `href="/store?tag=container%3Aweb"`) {
		t.Errorf("tags:\n%s", h)
	}
}
