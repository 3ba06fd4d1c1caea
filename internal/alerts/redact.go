package alerts

import (
	"cmp"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// mask stands for every secret part taken out of a URL or an error text.
const mask = "***"

// minSecret is the shortest URL part scrubbed from error texts: shorter
// ones ("v1", "api") are words of the texts more often than secrets, and
// no service issues tokens that short.
const minSecret = 4

// hostShown are the URL schemes whose host is a server's name. The other
// Shoutrrr services (slack, discord, telegram, teams, pushover,
// pushbullet, ifttt, join, wecom, notifiarr…) carry a token, a key or a
// webhook id in that place, so their host is hidden too.
var hostShown = map[string]bool{
	"http": true, "https": true, "generic": true, "gotify": true, "ntfy": true, "smtp": true,
	"matrix": true, "mattermost": true, "rocketchat": true, "zulip": true, "opsgenie": true,
	"pagerduty": true, "bark": true, "lark": true, "signal": true, "googlechat": true,
}

// redact is a notify URL as records, logs and read credentials show it:
// the scheme, "***@" for any user information, the host when it names a
// server, and "/***" for whatever follows it (path, query, fragment),
// where services put tokens: gotify://host/TOKEN, a Slack or Discord
// webhook's https://host/services/T…/B…/SECRET, ntfy topics.
func redact(u *url.URL) string {
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString(mask + "@")
	}
	switch {
	case hostShown[u.Scheme]:
		b.WriteString(u.Host)
	case u.Host != "":
		b.WriteString(mask)
	}
	if strings.Trim(u.EscapedPath(), "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.ForceQuery {
		b.WriteString("/" + mask)
	}
	return b.String()
}

// RedactTarget returns a notify URL without its secrets, as delivery
// records show it and read credentials get it (see redact).
func RedactTarget(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return redact(u)
}

// scrubber takes a notify URL's secret parts out of texts that may quote
// them: the error texts of HTTP clients and Shoutrrr services repeat
// their URL (Post "https://user:***@host/x?token=SECRET") or pieces of it
// (a token in a Telegram API URL built from the notify URL), escaped or
// not.
type scrubber struct {
	raw, safe string
	parts     []string // longest first, so a part's pieces do not break it up
}

// newScrubber collects the parts of raw that redact hides, in the forms
// they may take in a text.
func newScrubber(raw, safe string) scrubber {
	s := scrubber{raw: raw, safe: safe}
	u, err := url.Parse(raw)
	if err != nil {
		return s
	}
	for _, p := range urlParts(u) {
		for _, form := range forms(p) {
			if len(form) >= minSecret && !slices.Contains(s.parts, form) {
				s.parts = append(s.parts, form)
			}
		}
	}
	slices.SortFunc(s.parts, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return s
}

// urlParts are u's user information, hidden host, path segments, query
// values and fragment.
func urlParts(u *url.URL) []string {
	var out []string
	if u.User != nil {
		pw, _ := u.User.Password()
		out = append(out, u.User.String(), u.User.Username(), pw)
	}
	// A hidden host is a token or an id, unless it is one of the fixed
	// words some services want there (telegram://TOKEN@telegram,
	// slack://hook:TOKEN@webhook), which error texts use as words too.
	if h := u.Hostname(); !hostShown[u.Scheme] && h != u.Scheme && h != "webhook" {
		out = append(out, u.Host, h)
	}
	out = append(out, u.Opaque, u.RawQuery, u.Fragment, u.EscapedPath())
	out = append(out, strings.Split(u.Path, "/")...)
	out = append(out, strings.Split(u.EscapedPath(), "/")...)
	for k, vs := range u.Query() {
		out = append(out, k+"="+strings.Join(vs, ""))
		out = append(out, vs...)
	}
	return out
}

// forms are p as it is, unescaped and escaped both ways.
func forms(p string) []string {
	out := []string{p, url.QueryEscape(p), url.PathEscape(p)}
	if s, err := url.PathUnescape(p); err == nil {
		out = append(out, s)
	}
	if s, err := url.QueryUnescape(p); err == nil {
		out = append(out, s)
	}
	return out
}

// scrub replaces the whole URL in text with its redacted form, then every
// secret part left with the mask.
func (s scrubber) scrub(text string) string {
	text = strings.ReplaceAll(text, s.raw, s.safe)
	for _, p := range s.parts {
		text = strings.ReplaceAll(text, p, mask)
	}
	return text
}

// error returns err's text scrubbed, prefixed with the redacted target.
// The result deliberately does not wrap err: errors.As on it would find
// the original text with its secrets.
func (s scrubber) error(prefix string, err error) error {
	return errors.New(prefix + ": " + s.scrub(err.Error()))
}

// quoted matches the quoted strings of an error text (Go's %q).
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// unquote replaces the quoted input in a url.Parse error (invalid port
// ":x", invalid URL escape "%zz"), which may be a piece of a secret, with
// the mask.
func unquote(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the whole URL, quoted
	}
	return quoted.ReplaceAllString(err.Error(), `"`+mask+`"`)
}
