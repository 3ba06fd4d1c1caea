package alerts

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/crowsnest-hq/crowsnest/internal/filter"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Limits of a rule.
const (
	MaxNameLen    = 200
	MaxWhenLen    = 4096
	MaxTargets    = 20
	MaxCount      = 10000
	MaxWindow     = 7 * 24 * time.Hour // For, Within and Cooldown
	maxTargetsLen = 2048               // bytes of one notify URL
)

// ErrInvalid marks a rule refused by Compile; the error's text says why
// and is meant for the client (HTTP 400).
var ErrInvalid = errors.New("invalid alert rule")

// invalid returns an ErrInvalid error with the reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Rule is a validated rule, ready to evaluate: its filters parsed, its
// expression compiled, its targets resolved. It is never changed after
// Compile, so goroutines share it.
type Rule struct {
	wire.AlertRule
	filters filter.Filters
	program *vm.Program
	targets []target
}

// Compile validates r and prepares it for evaluation. Every problem is an
// ErrInvalid error naming the field.
func Compile(r wire.AlertRule) (*Rule, error) {
	if err := checkName(r.Name); err != nil {
		return nil, err
	}
	switch r.Kind {
	case wire.AlertKindEvent, wire.AlertKindLog, wire.AlertKindStats:
	default:
		return nil, invalid("kind %q: want %q, %q or %q", clip(r.Kind), wire.AlertKindEvent, wire.AlertKindLog, wire.AlertKindStats)
	}
	f, err := filter.Parse(string(r.Filters))
	if err != nil {
		return nil, invalid("filters: %v", err)
	}
	if f.HasEvents() && r.Kind != wire.AlertKindEvent {
		return nil, invalid("filters: the \"event\" key applies to event rules only")
	}
	if err := checkTiming(r); err != nil {
		return nil, err
	}
	prog, err := compileWhen(r.Kind, r.When)
	if err != nil {
		return nil, err
	}
	if len(r.Notify) > MaxTargets {
		return nil, invalid("notify: %d targets, at most %d are allowed", len(r.Notify), MaxTargets)
	}
	targets := make([]target, 0, len(r.Notify))
	for i, u := range r.Notify {
		t, err := parseTarget(u)
		if err != nil {
			return nil, invalid("notify[%d]: %v", i, err)
		}
		targets = append(targets, t)
	}
	return &Rule{AlertRule: r, filters: f, program: prog, targets: targets}, nil
}

func checkName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return invalid("name is required")
	case len(name) > MaxNameLen:
		return invalid("name is longer than %d bytes", MaxNameLen)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		return invalid("name must be UTF-8 text without NUL")
	}
	return nil
}

// checkTiming validates for, count, within and cooldown, and which kinds
// they make sense for.
func checkTiming(r wire.AlertRule) error {
	for _, d := range []struct {
		field string
		v     wire.Duration
	}{{"for", r.For}, {"within", r.Within}, {"cooldown", r.Cooldown}} {
		if d.v < 0 || time.Duration(d.v) > MaxWindow {
			return invalid("%s: %v is outside 0…%v", d.field, time.Duration(d.v), MaxWindow)
		}
	}
	switch {
	case r.Count < 0 || r.Count > MaxCount:
		return invalid("count: %d is outside 0…%d", r.Count, MaxCount)
	case r.Count > 0 && r.Within == 0:
		return invalid("count needs within: the window the %d matches must fall in", r.Count)
	case r.Within > 0 && r.Count == 0:
		return invalid("within needs count: how many matches must fall in it")
	case r.For > 0 && r.Count > 0:
		return invalid("for and count cannot be combined: for waits for a condition to hold, count counts matches")
	case r.For > 0 && r.Kind == wire.AlertKindLog:
		return invalid("for applies to event and stats rules: a log line does not last")
	}
	return nil
}

// compileWhen compiles the expression against the facts of kind, so an
// unknown fact or a non-boolean result is refused at save time.
func compileWhen(kind, when string) (*vm.Program, error) {
	if strings.TrimSpace(when) == "" {
		return nil, invalid("when is required: an expression such as %q", examples[kind])
	}
	if len(when) > MaxWhenLen {
		return nil, invalid("when is longer than %d bytes", MaxWhenLen)
	}
	prog, err := expr.Compile(when, expr.Env(factsEnv(kind)), expr.AsBool())
	if err != nil {
		return nil, invalid("when: %v", err)
	}
	return prog, nil
}

// examples are shown when an expression is missing.
var examples = map[string]string{
	wire.AlertKindEvent: `action == "die" && exitCode != 0 && !stopped`,
	wire.AlertKindLog:   `line matches "(?i)error"`,
	wire.AlertKindStats: `cpu > 90`,
}

// clip keeps error messages short when a client sends a huge value.
func clip(s string) string { return clipTo(s, 80) }

// clipTo cuts s to at most max bytes on a rune boundary, marking the cut.
func clipTo(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
