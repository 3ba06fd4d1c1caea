package serverlog

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// redacted replaces the value of a secret attribute.
const redacted = "[redacted]"

// secretKeys are the attribute keys whose values never reach a log, compared
// without case. The auth code does not log credentials in the first place;
// this is defence in depth against a careless log call.
var secretKeys = []string{"token", "secret", "password", "authorization"}

// isSecret reports whether key names a secret.
func isSecret(key string) bool {
	for _, k := range secretKeys {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// Redact is an slog.HandlerOptions.ReplaceAttr that hides the value of a
// secret attribute, or of any attribute inside a group named like one, so
// the text log on stderr leaks no more than the ring does.
func Redact(groups []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup {
		return a
	}
	secret := isSecret(a.Key)
	for _, g := range groups {
		secret = secret || isSecret(g)
	}
	if secret {
		return slog.String(a.Key, redacted)
	}
	return a
}

// appendAttr renders a as " prefix.key=value", recursing into groups the
// way slog's text handler does; inside a secret group every value is
// redacted.
func appendAttr(b []byte, prefix string, a slog.Attr, secret bool) []byte {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		attrs := v.Group()
		if len(attrs) == 0 {
			return b // slog drops empty groups
		}
		if a.Key != "" {
			prefix += a.Key + "."
			secret = secret || isSecret(a.Key)
		}
		for _, ga := range attrs {
			b = appendAttr(b, prefix, ga, secret)
		}
		return b
	}
	if a.Key == "" && v.Any() == nil {
		return b // slog ignores an empty attribute
	}
	b = append(b, ' ')
	b = append(b, prefix...)
	b = append(b, a.Key...)
	b = append(b, '=')
	if secret || isSecret(a.Key) {
		return append(b, redacted...)
	}
	return appendValue(b, v)
}

// appendValue renders a resolved value, quoting strings that would
// otherwise be ambiguous in key=value text.
func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindTime:
		return append(b, v.Time().Format(time.RFC3339Nano)...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return appendString(b, x.Error())
		case fmt.Stringer:
			return appendString(b, x.String())
		case []byte:
			return appendString(b, string(x))
		default:
			return appendString(b, fmt.Sprint(x))
		}
	}
	return append(b, v.String()...)
}

// appendString appends s, quoted when it is empty or holds a space, a quote,
// an '=' or a non-printing character.
func appendString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == '=' || r == '"' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}
