package stacks

import (
	"testing"

	"github.com/docker/compose/v5/pkg/api"
)

func TestProgressLines(t *testing.T) {
	var got []string
	p := newProgress(func(s string) { got = append(got, s) })
	p.On(
		api.Resource{ID: "Network my_stack_default", Text: "Creating", Status: api.Working},
		api.Resource{ID: "Network my_stack_default", Text: "Created", Status: api.Done},
		api.Resource{ID: "Container web-1", Text: "Started", Status: api.Done},
		api.Resource{ID: "Container web-1", Text: "Started", Status: api.Done},
		api.Resource{ID: "a1b2c3", ParentID: "Image nginx", Text: "Downloading", Details: "1MB"},
		api.Resource{ID: "a1b2c3", ParentID: "Image nginx", Text: "Downloading", Details: "2MB"},
		api.Resource{ID: "a1b2c3", ParentID: "Image nginx", Text: "Pull complete", Details: "3MB", Status: api.Done},
		api.Resource{ID: "Image nginx", Text: "Error", Details: "pull access denied", Status: api.Error},
	)
	want := []string{
		"Creating network my_stack_default",
		"Network my_stack_default Created",
		"Container web-1 Started",
		"Image nginx: layer a1b2c3 Downloading",
		"Image nginx: layer a1b2c3 Pull complete",
		"Image nginx Error: pull access denied",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"web", "my_stack", "a-1", "0x"} {
		if err := ValidName(n); err != nil {
			t.Errorf("%q refused: %v", n, err)
		}
	}
	for _, n := range []string{"", "Web", "-a", "_a", "a b", "a.b", string(make([]byte, 64))} {
		if ValidName(n) == nil {
			t.Errorf("%q accepted", n)
		}
	}
}
