package stacks

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const secretEnv = `# database
DB_PASSWORD=hunter2SECRET
export API_TOKEN="tok en SECRET"
SINGLE='quotedSECRET'
PORT=8080
DEBUG=1
`

func TestMaskEnvShowsKeysOnly(t *testing.T) {
	got := MaskEnv(secretEnv)
	want := "API_TOKEN=***\nDB_PASSWORD=***\nDEBUG=***\nPORT=***\nSINGLE=***\n"
	if got != want {
		t.Fatalf("MaskEnv = %q, want %q", got, want)
	}
	if got := MaskEnv(""); got != "" {
		t.Fatalf("MaskEnv of nothing = %q", got)
	}
}

// TestEnvScrubberTakesValuesOutOfMessages: compose's and the engine's
// words about a failed action lose the .env values they quote, but keep
// ports and short words.
func TestEnvScrubberTakesValuesOutOfMessages(t *testing.T) {
	s := newEnvScrubber(secretEnv)
	msg := s.scrub(`invalid containerPort: hunter2SECRET; env "tok en SECRET" and quotedSECRET; port 8080 is already allocated, DEBUG=1`)
	if strings.Contains(msg, "SECRET") || !strings.Contains(msg, "8080") || !strings.Contains(msg, "DEBUG=1") {
		t.Fatalf("scrubbed: %q", msg)
	}
	err := s.error(invalid("service web: %s", "hunter2SECRET"))
	if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("scrubbed error %v: want ErrInvalid without the value", err)
	}
	if errors.Unwrap(err) != nil || fmt.Sprintf("%+v", err) != err.Error() {
		t.Fatalf("the scrubbed error still carries the original")
	}
}

// TestCheckEnvQuotesNoValue: an env text compose cannot read is refused
// naming its line, not repeating it.
func TestCheckEnvQuotesNoValue(t *testing.T) {
	for _, env := range []string{
		"OK=1\nDB_PASSWORD hunter2SECRET\n",
		"OK=1\nTOKEN=\"unterminatedSECRET\n",
		"BAD$KEY=SECRET\n",
	} {
		err := checkEnv(env)
		if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("checkEnv(%q) = %v, want ErrInvalid without the value", env, err)
		}
	}
	if err := checkEnv(secretEnv); err != nil {
		t.Fatal(err)
	}
}
