package stacks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostMarker is in the files outside the stack's directory: no error text
// may ever show it.
const hostMarker = "HOST-FILE-MARKER-5e2c1a"

// TestLoadReadsNoHostFiles: a compose file may name for the loader only
// files beside it; one outside is refused by name, and no refusal quotes a
// file's contents, host paths allowed or not.
func TestLoadReadsNoHostFiles(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("root:$6$"+hostMarker+":19000:0:99999:7:::\n\"unterminated "+hostMarker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Lines of a shadow file parse as YAML keys, which schema errors quote.
	keys := filepath.Join(outside, "keys")
	if err := os.WriteFile(keys, []byte("root:$6$"+hostMarker+":19000:0:99999:7:::\nservices:\n  a:\n    "+hostMarker+": x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	goodEnv := filepath.Join(outside, "good.env")
	if err := os.WriteFile(goodEnv, []byte("FROM_HOST=yes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := "services:\n  a:\n    image: busybox\n"
	cases := []struct {
		name, compose, env string
		hostPaths          bool
		want               string // in the error; "" means it loads
	}{
		{"include absolute", "include: [" + secret + "]\n" + svc, "", false, "outside"},
		{"include /etc/shadow", "include: [/etc/shadow]\n" + svc, "", false, "outside"},
		{"include relative", "include: [../../../../../../../.." + secret + "]\n" + svc, "", false, "outside"},
		{"include long form", "include:\n  - path: " + secret + "\n" + svc, "", false, "outside"},
		{"include interpolated", "include: [\"${WHERE}\"]\n" + svc, "WHERE=" + secret + "\n", false, "outside"},
		{"include env_file", "include:\n  - path: compose.yaml\n    env_file: " + secret + "\n" + svc, "", false, "outside"},
		{"include project_directory", "include:\n  - path: x.yaml\n    project_directory: " + outside + "\n" + svc, "", false, "outside"},
		{"include the env file", "include: [.env]\n" + svc, "A=b\n", false, "not a compose file"},
		{"extends", "services:\n  a:\n    image: busybox\n    extends: {file: " + secret + ", service: x}\n", "", false, "outside"},
		{"env_file", "services:\n  a:\n    image: busybox\n    env_file: " + secret + "\n", "", false, "outside"},
		{"env_file optional", "services:\n  a:\n    image: busybox\n    env_file:\n      - path: ../" + filepath.Base(outside) + "/secret\n        required: false\n", "", false, "outside"},
		{"label_file", "services:\n  a:\n    image: busybox\n    label_file: " + secret + "\n", "", false, "outside"},
		{"a .env that does not parse", svc, "\"unterminated " + hostMarker + "\n", false, "env file: not valid"},
		{"host paths allowed: include that is not compose", "include: [" + secret + "]\n" + svc, "", true, "not a valid compose file"},
		{"host paths allowed: include a mapping of secrets", "include: [" + keys + "]\n" + svc, "", true, "not a valid compose file"},
		{"host paths allowed: extends a mapping of secrets", "services:\n  a:\n    image: busybox\n    extends: {file: " + keys + ", service: a}\n", "", true, "not a valid compose file"},
		{"host paths allowed: env_file that is not one", "services:\n  a:\n    image: busybox\n    env_file: " + secret + "\n", "", true, "not an env file"},
		{"host paths allowed: a good env_file", "services:\n  a:\n    image: busybox\n    env_file: " + goodEnv + "\n", "", true, ""},
		{"env_file beside it", "services:\n  a:\n    image: busybox\n    env_file: .env\n", "A=b\n", false, ""},
		{"extends in the same file", "services:\n  base:\n    image: busybox\n  a:\n    extends: base\n", "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "stacks", "s")
			if err := writeFiles(dir, c.compose, c.env); err != nil {
				t.Fatal(err)
			}
			_, err := loadProject(context.Background(), dir, "s", c.hostPaths)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrInvalid saying %q", err, c.want)
			}
			t.Log(err)
			if strings.Contains(err.Error(), hostMarker) || strings.Contains(err.Error(), "99999") {
				t.Fatalf("the error quotes a file: %v", err)
			}
		})
	}
}
