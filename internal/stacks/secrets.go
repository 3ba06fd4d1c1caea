package stacks

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// envMask stands for a value of a stack's .env text that the caller may
// not see.
const envMask = "***"

// minEnvSecret is the shortest .env value scrubbed from messages: shorter
// values ("1", "on", "db") are words of the messages more often than
// secrets. Values made only of digits (ports, counts) are not scrubbed
// either, so "port 8080 is already allocated" stays readable.
const minEnvSecret = 4

// MaskEnv returns the keys of an env text, one "KEY=***" line each,
// sorted: what a read credential may know of a stack's .env. A text that
// does not parse (never stored: Create refuses it) shows no key.
func MaskEnv(env string) string {
	vars, err := parseEnv(env)
	if err != nil || len(vars) == 0 {
		return ""
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		b.WriteString(k + "=" + envMask + "\n")
	}
	return b.String()
}

// parseEnv reads an env text as compose does, without looking anything up
// in crowsnest's own environment.
func parseEnv(env string) (map[string]string, error) {
	return dotenv.UnmarshalWithLookup(env, func(string) (string, bool) { return "", false })
}

// checkEnv refuses an env text compose could not read. The parser's own
// error quotes the offending line, value and all, so only its line number
// is kept.
func checkEnv(env string) error {
	if _, err := parseEnv(env); err != nil {
		where, _, _ := strings.Cut(err.Error(), ":")
		if !strings.HasPrefix(where, "line ") {
			where = "a line"
		}
		return invalid(".env: %s does not parse: want KEY=value, a key of letters, digits, '_', '.' or '-', a quoted value closed", where)
	}
	return nil
}

// envScrubber takes a stack's .env values out of the texts it reports:
// compose and the engine quote interpolated values in their errors
// (an invalid port "${DB_PASSWORD}" is refused with the password in it).
type envScrubber []string // longest first

// newEnvScrubber collects the values of env worth scrubbing.
func newEnvScrubber(env string) envScrubber {
	vars, _ := parseEnv(env) // a text that does not parse never gets this far
	var s envScrubber
	for _, v := range vars {
		v = strings.TrimSpace(v)
		if len(v) >= minEnvSecret && strings.Trim(v, "0123456789") != "" && !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	slices.SortFunc(s, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return s
}

// scrub replaces every value in text with the mask.
func (s envScrubber) scrub(text string) string {
	for _, v := range s {
		text = strings.ReplaceAll(text, v, envMask)
	}
	return text
}

// error returns err with its text scrubbed; errors.Is still finds the
// sentinels (ErrInvalid, ErrTooLarge…) it wraps, but the text it
// carries is the scrubbed one.
func (s envScrubber) error(err error) error {
	if err == nil || len(s) == 0 {
		return err
	}
	text := s.scrub(err.Error())
	if text == err.Error() {
		return err
	}
	return scrubbedError{text: text, kinds: sentinels(err)}
}

// scrubbedError is an error whose text was scrubbed. It unwraps to the
// sentinels only: the original error would repeat the secrets to anyone
// printing it.
type scrubbedError struct {
	text  string
	kinds []error
}

func (e scrubbedError) Error() string   { return e.text }
func (e scrubbedError) Unwrap() []error { return e.kinds }

// sentinels are the package's errors a validation error may wrap, for the
// API's statuses.
func sentinels(err error) []error {
	var out []error
	for _, k := range []error{ErrInvalid, ErrTooLarge} {
		if errors.Is(err, k) {
			out = append(out, k)
		}
	}
	return out
}
