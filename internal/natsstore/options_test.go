package natsstore

import (
	"slices"
	"testing"
)

func TestParseURLs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string // nil: refused
	}{
		{"nats://a:4222", []string{"nats://a:4222"}},
		{"nats://a:4222,b:4223, c:4224", []string{"nats://a:4222", "nats://b:4223", "nats://c:4224"}},
		{"tls://a:4222,nats://b:4222", []string{"tls://a:4222", "nats://b:4222"}},
		{"nats://127.0.0.1:4222/", []string{"nats://127.0.0.1:4222"}},
		{"a:4222", nil},
		{"http://a:4222", nil},
		{"nats://a", nil},
		{"nats://user:pass@a:4222", nil},
		{"nats://a:4222,", nil},
		{"nats://a:4222/path", nil},
	} {
		got, err := ParseURLs(c.in)
		if c.want == nil {
			if err == nil {
				t.Errorf("%q: accepted as %v", c.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}
