package api

import (
	"errors"
	"net/http/httptest"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/crowsnest-hq/crowsnest/internal/body"
)

func TestResponseFormat(t *testing.T) {
	cases := []struct {
		accept string
		want   body.Format
		err    bool
	}{
		{"", body.JSON, false},
		{"*/*", body.JSON, false},
		{"application/json", body.JSON, false},
		{"application/json; charset=utf-8", body.JSON, false},
		{"application/*", body.JSON, false},
		{"text/html, application/xhtml+xml, */*;q=0.8", body.JSON, false}, // a browser
		{"application/x-yaml", body.YAML, false},
		{"application/x-yaml, application/json", body.YAML, false}, // Vamp: starts with x-yaml
		{"Application/X-YAML", body.YAML, false},
		{"application/yaml", body.YAML, false},
		{"text/html, application/x-yaml", body.YAML, false}, // allows YAML, not JSON
		{"text/*", body.YAML, false},
		{"application/json, application/x-yaml", body.JSON, false},
		{"application/json;q=0, application/x-yaml", body.YAML, false},
		{"application/x-yaml;q=0, application/json", body.JSON, false},
		{"text/html", body.JSON, true},
		{"image/png, text/plain", body.JSON, true},
		{"application/json;q=0", body.JSON, true},
		{"*/*;q=0", body.JSON, true},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		got, err := responseFormat(r)
		if c.err {
			if !errors.Is(err, errNotAcceptable) {
				t.Errorf("%q: err %v, want errNotAcceptable", c.accept, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %v, %v; want %v", c.accept, got, err, c.want)
		}
	}
}

func TestJSONToYAML(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{`{"b":1,"a":2}`, "b: 1\na: 2\n"}, // key order kept
		{`12345678901234567890123`, "12345678901234567890123\n"},
		{`[1.5,-0.25,1e300,0]`, "- 1.5\n- -0.25\n- 1e300\n- 0\n"},
		{`["true","12","","null","2017-01-10T15:33:49.766Z","plain"]`,
			"- \"true\"\n- \"12\"\n- \"\"\n- \"null\"\n- \"2017-01-10T15:33:49.766Z\"\n- plain\n"},
		{`["yes","on","N","1:20","0x1F"]`, "- \"yes\"\n- \"on\"\n- \"N\"\n- \"1:20\"\n- \"0x1F\"\n"}, // YAML 1.1 readers
		{`{"yes":1,"a b":2}`, "\"yes\": 1\na b: 2\n"},
		{`{"ok":true,"no":false,"nil":null}`, "ok: true\n\"no\": false\nnil: null\n"},
		{`{"nested":{"list":[{"x":[]}],"empty":{}}}`, "nested:\n  list:\n    - x: []\n  empty: {}\n"},
		{`"multi\nline"`, "|-\n  multi\n  line\n"},
	}
	for _, c := range cases {
		got, err := jsonToYAML([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.in, got, c.want)
		}
		// Whatever the text, it reads back as the same value.
		var back, orig any
		if err := yaml.Unmarshal(got, &back); err != nil {
			t.Errorf("%s: YAML does not read back: %v", c.in, err)
		}
		if err := yaml.Unmarshal([]byte(c.in), &orig); err == nil && !sameValue(back, orig) {
			t.Errorf("%s: read back as %#v, want %#v", c.in, back, orig)
		}
	}
	for _, bad := range []string{``, `{"a":`, `[1,`} {
		if _, err := jsonToYAML([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// sameValue compares decoded YAML values by their YAML encoding, which is
// canonical enough for the small cases above.
func sameValue(a, b any) bool {
	x, err1 := yaml.Marshal(a)
	y, err2 := yaml.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
