package body

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestFormatFromContentType(t *testing.T) {
	for _, c := range []struct {
		ct   string
		want Format
		err  bool
	}{
		{"", JSON, false},
		{"application/json", JSON, false},
		{"application/json; charset=UTF-8", JSON, false},
		{"application/x-yaml", YAML, false},
		{"application/yaml", YAML, false},
		{"text/yaml", YAML, false},
		{"text/plain", JSON, true},
		{"application/json; charset=latin1", JSON, true},
		{"???", JSON, true},
	} {
		got, err := FormatFromContentType(c.ct)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("%q: %v %v", c.ct, got, err)
		}
		if c.err && !errors.Is(err, ErrUnsupportedMediaType) {
			t.Errorf("%q: error %v is not ErrUnsupportedMediaType", c.ct, err)
		}
	}
}

func TestDecode(t *testing.T) {
	deepJSON := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	okJSON := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	deepYAML := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	var nested strings.Builder
	for i := 0; i <= MaxDepth; i++ {
		fmt.Fprintf(&nested, "%sk:\n", strings.Repeat("  ", i))
	}
	cases := []struct {
		name string
		f    Format
		in   string
		want string // JSON of the decoded value
		err  error  // sentinel, or nil with errHas
		has  string
	}{
		{name: "json", f: JSON, in: `{"a":[1,"x",null]}`, want: `{"a":[1,"x",null]}`},
		{name: "json depth ok", f: JSON, in: okJSON, want: okJSON},
		{name: "json too deep", f: JSON, in: deepJSON, err: ErrTooDeep},
		{name: "json brackets in strings", f: JSON, in: `["` + strings.Repeat("[", 100) + `\"["]`, want: `["` + strings.Repeat("[", 100) + `\"["]`},
		{name: "json syntax", f: JSON, in: `{"a":}`, has: "body: json"},
		{name: "yaml map", f: YAML, in: "a: 1\nb: [x, 2.5, true, null]\nc: '2017-01-10T15:33:49Z'\n", want: `{"a":1,"b":["x",2.5,true,null],"c":"2017-01-10T15:33:49Z"}`},
		{name: "yaml list", f: YAML, in: "- tags: [a]\n- tags: [b]\n", want: `[{"tags":["a"]},{"tags":["b"]}]`},
		{name: "yaml unquoted timestamp", f: YAML, in: "t: 2017-01-10T15:33:49Z\n", want: `{"t":"2017-01-10T15:33:49Z"}`},
		{name: "yaml flow too deep", f: YAML, in: deepYAML, err: ErrTooDeep},
		{name: "yaml block too deep", f: YAML, in: nested.String() + strings.Repeat("  ", MaxDepth+1) + "v\n", err: ErrTooDeep},
		{name: "yaml int key", f: YAML, in: "1: a\n", has: "map keys must be strings"},
		{name: "yaml bool key", f: YAML, in: "true: a\n", has: "map keys must be strings"},
		{name: "yaml complex key", f: YAML, in: "? [a]\n: b\n", has: "map keys must be strings"},
		{name: "yaml duplicate key", f: YAML, in: "a: 1\na: 2\n", has: "duplicate key"},
		{name: "yaml small alias ok", f: YAML, in: "x: &x [1, 2]\ny: *x\n", want: `{"x":[1,2],"y":[1,2]}`},
		{name: "yaml merge", f: YAML, in: "base: &b {a: 1, b: 2}\nd:\n  <<: *b\n  b: 3\n", want: `{"base":{"a":1,"b":2},"d":{"a":1,"b":3}}`},
		{name: "yaml recursive alias", f: YAML, in: "&a [*a]\n", has: "body"},
		{name: "yaml inf", f: YAML, in: "a: .inf\n", has: "not a finite number"},
		{name: "yaml two documents", f: YAML, in: "a: 1\n---\nb: 2\n", has: "more than one document"},
		{name: "yaml syntax", f: YAML, in: "a: [\n", has: "yaml"},
		{name: "empty", f: YAML, in: "  \n", want: `null`},
		{name: "bom", f: JSON, in: "\xEF\xBB\xBF{}", want: `{}`},
		{name: "bad utf8", f: JSON, in: "{\"a\":\"\xff\"}", err: ErrInvalidUTF8},
		{name: "bad utf8 yaml", f: YAML, in: "a: \xc3\x28\n", err: ErrInvalidUTF8},
		{name: "too large", f: JSON, in: `"` + strings.Repeat("x", MaxSize) + `"`, err: ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v any
			err := Decode(c.f, []byte(c.in), &v)
			switch {
			case c.err != nil:
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			case c.has != "":
				if err == nil || !strings.Contains(err.Error(), c.has) {
					t.Fatalf("err = %v, want it to contain %q", err, c.has)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			got, _ := json.Marshal(v)
			if string(got) != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestDecodeIntoStruct(t *testing.T) {
	var v struct {
		Tags  []string        `json:"tags"`
		Value json.RawMessage `json:"value"`
	}
	if err := Decode(YAML, []byte("tags: [a, b]\nvalue: {cpu: 1}\n"), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Tags) != 2 || string(v.Value) != `{"cpu":1}` {
		t.Fatalf("%+v", v)
	}
	if err := Decode(YAML, []byte("tags: 3\n"), &v); err == nil {
		t.Fatal("type mismatch accepted")
	}
}

// billionLaughs is the classic alias bomb: nine levels of ten aliases each,
// 10^9 strings once expanded, from a few hundred bytes.
const billionLaughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

func TestYAMLAliasBombs(t *testing.T) {
	bigString := "s: &s " + strings.Repeat("x", 500_000) + "\nl: [" + strings.Repeat("*s,", 20) + "*s]\n"
	for name, doc := range map[string]string{"billion laughs": billionLaughs, "big string": bigString} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			var v any
			err := Decode(YAML, []byte(doc), &v)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrAliasExpansion) {
				t.Fatalf("err = %v, want ErrAliasExpansion", err)
			}
			if elapsed > 2*time.Second {
				t.Fatalf("took %v", elapsed)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Fatalf("allocated %d MiB", alloc>>20)
			}
		})
	}
}

// FuzzDecode checks that no input panics Decode and that whatever it accepts
// respects the limits once decoded.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"tags":["a"],"value":{"x":[1,2]}}`), false)
	f.Add([]byte(billionLaughs), true)
	f.Add([]byte("a: &a {b: 1}\nc:\n  <<: *a\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		format := JSON
		if yaml {
			format = YAML
		}
		var v any
		if err := Decode(format, data, &v); err != nil {
			return
		}
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted value does not re-encode: %v", err)
		}
		if len(js) > MaxSize+MaxAliasBytes+MaxAliasNodes*16 && len(js) > 8*len(data)+MaxAliasBytes {
			t.Fatalf("output of %d bytes from %d", len(js), len(data))
		}
		if err := checkJSONDepth(js); err != nil {
			t.Fatalf("accepted value is too deep: %v", err)
		}
		if !bytes.Equal(bytes.TrimSpace(js), js) {
			t.Fatal("unexpected whitespace")
		}
	})
}
