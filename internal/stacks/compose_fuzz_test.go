package stacks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzComposeValidate feeds the stack validation path (size check, bounded
// YAML pre-check, files written to a staging directory, compose-go's
// loader) arbitrary compose and env texts. It must never panic or hang, it
// must refuse with ErrInvalid or ErrTooLarge only (anything else would be
// answered 500 for a client's mistake), a refusal must leave nothing behind,
// and what it accepts must load again to the same services.
func FuzzComposeValidate(f *testing.F) {
	seeds := []struct{ compose, env string }{
		{"services:\n  web:\n    image: nginx\n", ""},
		{"services:\n  web:\n    image: ${IMAGE:-nginx}\n    ports: [\"${PORT}:80\"]\n", "PORT=8080\nIMAGE=busybox\n"},
		{"services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n    environment:\n      K: ${K:?K is required}\n", ""},
		{"x-base: &base\n  image: nginx\nservices:\n  a: *base\n  b:\n    <<: *base\n    command: [\"sh\", \"-c\", \"echo $$HOME\"]\n", ""},
		{"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n", ""},
		{"services:\n  web:\n    build: .\n    volumes: [\"./data:/data\", \"named:/n\"]\nvolumes:\n  named: {}\nnetworks:\n  default:\n    driver: bridge\n", ""},
		{"services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        limits: {cpus: '0.5', memory: 64M}\n    healthcheck:\n      test: [CMD, true]\n      interval: 1s\n", ""},
		{"services: []\n", ""},
		{"- a\n- b\n", ""},
		{"", ""},
		{"services:\n  web:\n    image: nginx\n    env_file: [missing.env]\n", ""},
		{"version: '3'\nservices:\n  Web:\n    image: nginx\n", "=\n#\nA\nB=\"unterminated\n"},
		{"services:\n  w:\n    image: \"\\xff\"\n", ""},
		{"{\"services\":{\"web\":{\"image\":\"nginx\",\"profiles\":[\"p\"]}}}", ""},
	}
	for _, s := range seeds {
		f.Add(s.compose, s.env)
	}
	f.Fuzz(func(t *testing.T, compose, env string) {
		// A compose file may name host paths (env_file, include, secrets,
		// extends); that is the admin's right, documented, but a fuzzer
		// that stumbled on /dev/zero or a FIFO would only hang the run.
		for _, p := range []string{"/dev", "/proc", "/sys", "include", "extends"} {
			if strings.Contains(compose, p) || strings.Contains(env, p) {
				t.Skip("names host paths")
			}
		}
		// A data directory per input, so what one input leaves behind is
		// seen on that input.
		m := &Manager{opts: Options{DataDir: t.TempDir()}}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		staging, services, err := m.validate(ctx, "fuzz", compose, env)
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("validation took %v", d)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("refused with an error that is not the client's: %v", err)
			}
			if left, _ := filepath.Glob(filepath.Join(m.root(), ".staging-*")); len(left) > 0 {
				t.Fatalf("a refusal left %v behind", left)
			}
			return
		}
		defer os.RemoveAll(staging)
		if err := checkYAML(compose); err != nil {
			t.Fatalf("accepted a text the YAML pre-check refuses: %v", err)
		}
		p, err := loadProject(ctx, staging, "fuzz", false)
		if err != nil {
			t.Fatalf("accepted, but loading the staged files again fails: %v", err)
		}
		if again := p.ServiceNames(); !slices.Equal(again, services) {
			t.Fatalf("services %v, then %v", services, again)
		}
	})
}
