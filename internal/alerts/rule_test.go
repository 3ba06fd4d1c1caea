package alerts

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestCompileRefusesBadRules(t *testing.T) {
	ok := wire.AlertRule{Name: "r", Enabled: true, Kind: wire.AlertKindEvent, When: `exitCode != 0`}
	mod := func(f func(*wire.AlertRule)) wire.AlertRule { r := ok; f(&r); return r }
	cases := []struct {
		name string
		rule wire.AlertRule
		want string // in the error
	}{
		{"no name", mod(func(r *wire.AlertRule) { r.Name = " " }), "name is required"},
		{"long name", mod(func(r *wire.AlertRule) { r.Name = strings.Repeat("n", MaxNameLen+1) }), "name is longer"},
		{"unknown kind", mod(func(r *wire.AlertRule) { r.Kind = "metric" }), `kind "metric"`},
		{"bad filters JSON", mod(func(r *wire.AlertRule) { r.Filters = []byte(`{"container":`) }), "filters"},
		{"unknown filter key", mod(func(r *wire.AlertRule) { r.Filters = []byte(`{"colour":["red"]}`) }), `unknown filter key "colour"`},
		{"event key on a log rule", mod(func(r *wire.AlertRule) {
			r.Kind, r.When, r.Filters = "log", `line contains "x"`, []byte(`{"event":["die"]}`)
		}), `"event" key`},
		{"no expression", mod(func(r *wire.AlertRule) { r.When = "" }), "when is required"},
		{"does not compile", mod(func(r *wire.AlertRule) { r.When = `exitCode !=` }), "when:"},
		{"unknown fact", mod(func(r *wire.AlertRule) { r.When = `exitcode != 0` }), "unknown name exitcode"},
		{"fact of another kind", mod(func(r *wire.AlertRule) { r.When = `cpu > 90` }), "unknown name cpu"},
		{"log fact on stats", mod(func(r *wire.AlertRule) { r.Kind, r.When = "stats", `line == "x"` }), "unknown name line"},
		{"not boolean", mod(func(r *wire.AlertRule) { r.When = `exitCode + 1` }), "when:"},
		{"bad regexp", mod(func(r *wire.AlertRule) { r.Kind, r.When = "log", `line matches "("` }), "when:"},
		{"count without within", mod(func(r *wire.AlertRule) { r.Count = 3 }), "count needs within"},
		{"within without count", mod(func(r *wire.AlertRule) { r.Within = wire.Duration(time.Minute) }), "within needs count"},
		{"negative count", mod(func(r *wire.AlertRule) { r.Count = -1 }), "count: -1"},
		{"negative for", mod(func(r *wire.AlertRule) { r.For = -1 }), "for:"},
		{"huge cooldown", mod(func(r *wire.AlertRule) { r.Cooldown = wire.Duration(MaxWindow + 1) }), "cooldown:"},
		{"for with count", mod(func(r *wire.AlertRule) {
			r.For, r.Count, r.Within = wire.Duration(time.Minute), 2, wire.Duration(time.Minute)
		}), "cannot be combined"},
		{"for on a log rule", mod(func(r *wire.AlertRule) {
			r.Kind, r.When, r.For = "log", `line contains "x"`, wire.Duration(time.Minute)
		}), "for applies to event and stats"},
		{"unknown scheme", mod(func(r *wire.AlertRule) { r.Notify = []string{"pager://x/y"} }), `notify[0]: unknown scheme "pager"`},
		{"no scheme", mod(func(r *wire.AlertRule) { r.Notify = []string{"example.com/hook"} }), "no scheme"},
		{"webhook without host", mod(func(r *wire.AlertRule) { r.Notify = []string{"https:///hook"} }), "no host"},
		{"bad shoutrrr URL", mod(func(r *wire.AlertRule) { r.Notify = []string{"https://ok.example/h", "telegram://x@telegram"} }), "notify[1]"},
		{"too many targets", mod(func(r *wire.AlertRule) {
			r.Notify = make([]string, MaxTargets+1)
			for i := range r.Notify {
				r.Notify[i] = "https://example.com/h"
			}
		}), "targets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.rule)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Compile: %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Compile: %q, want it to say %q", err, c.want)
			}
		})
	}
}

func TestCompileAcceptsTargetsAndFacts(t *testing.T) {
	for _, r := range []wire.AlertRule{
		{Name: "event facts", Kind: "event", When: `action == "die" && exitCode == 3 && !stopped && !oomKilled && health != "unhealthy" && name startsWith "web" && image != "" && labels["env"] == "prod"`},
		{Name: "log facts", Kind: "log", When: `stream == "stderr" && line matches "(?i)error" && name != ""`, Count: 5, Within: wire.Duration(time.Minute)},
		{Name: "stats facts", Kind: "stats", When: `cpu > 90 || memory > 80 || memoryBytes > 512 * 1024 * 1024`, For: wire.Duration(time.Minute)},
		{Name: "targets", Kind: "event", When: "true", Notify: []string{
			"http://127.0.0.1:9/hook", "https://hooks.example.com/x?token=s", "ntfy://ntfy.sh/crowsnest",
			"discord://token@channel", "gotify://gotify.example.com/Aaa.bbb.ccc.ddd",
		}},
	} {
		if _, err := Compile(r); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
}

func TestPresetsCompile(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Presets() {
		if seen[p.ID] {
			t.Errorf("preset id %q twice", p.ID)
		}
		seen[p.ID] = true
		if _, err := Compile(p.Rule); err != nil {
			t.Errorf("preset %s: %v", p.ID, err)
		}
	}
	for _, id := range []string{"crash", "oom", "restart-loop", "unhealthy", "log-pattern", "cpu", "memory"} {
		if !seen[id] {
			t.Errorf("preset %q missing", id)
		}
	}
}

// TestRedactTargetHidesSecrets: each kind of notify URL shows its scheme
// and, where it names a server, its host; never a token, wherever the
// service keeps it.
func TestRedactTargetHidesSecrets(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://user:pw1secret@hooks.example.com/x?token=qsecret", "https://***@hooks.example.com/***"},
		{"https://hooks.slack.com/services/T0SECRET/B0SECRET/XXSECRET", "https://hooks.slack.com/***"},
		{"https://discord.com/api/webhooks/1234SECRET/abcdSECRET", "https://discord.com/***"},
		{"http://127.0.0.1:9/hook", "http://127.0.0.1:9/***"},
		{"http://127.0.0.1:9", "http://127.0.0.1:9"},
		{"https://ex.example/?tokSECRET", "https://ex.example/***"},
		{"gotify://gotify.example/AbcSECRET", "gotify://gotify.example/***"},
		{"gotify://gotify.example:8443/path/AbcSECRET?disabletls=yes", "gotify://gotify.example:8443/***"},
		{"ntfy://user:pwSECRET@ntfy.sh/topicSECRET", "ntfy://***@ntfy.sh/***"},
		{"slack://xoxb-SECRET@C123CHAN", "slack://***@***"},
		{"slack://hook:T0SECRET-B0SECRET-XXSECRET@webhook", "slack://***@***"},
		{"discord://tokSECRET@1234SECRET", "discord://***@***"},
		{"teams://groupSECRET@tenantSECRET/altSECRET/ownerSECRET?host=org.webhook.office.com", "teams://***@***/***"},
		{"telegram://110201543:AAHdSECRET@telegram?chats=@chan", "telegram://***@***/***"},
		{"pushbullet://tokSECRET/devSECRET", "pushbullet://***/***"},
		{"pushover://shoutrrr:apiSECRET@userSECRET/?devices=d1", "pushover://***@***/***"},
		{"smtp://alice:pwSECRET@mail.example:587/?from=a@example&to=b@example", "smtp://***@mail.example:587/***"},
		{"generic://hooks.example/x?token=SECRET", "generic://hooks.example/***"},
		{"%zz", "(unparsable URL)"},
	} {
		got := RedactTarget(c.in)
		if got != c.want || strings.Contains(got, "SECRET") || strings.Contains(got, "secret") {
			t.Errorf("RedactTarget(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestScrubberTakesSecretsOutOfErrorTexts: whatever form a library's
// error text quotes a URL in (whole, as net/http redacts it, escaped,
// rebuilt into an API URL), none of its secrets is left.
func TestScrubberTakesSecretsOutOfErrorTexts(t *testing.T) {
	raw := "https://bot:pw%2FSECRET1@hooks.example/services/T0SECRET2/XXSECRET3?token=tok+SECRET4&x=y#fragSECRET5"
	s := newScrubber(raw, RedactTarget(raw))
	for _, text := range []string{
		`Post "` + raw + `": dial tcp: connection refused`,
		`Post "https://bot:***@hooks.example/services/T0SECRET2/XXSECRET3?token=tok+SECRET4&x=y": EOF`,
		`bad password "pw/SECRET1" for bot`,
		`token tok SECRET4 refused; see XXSECRET3 and T0SECRET2`,
		`escaped: pw%2FSECRET1 tok%20SECRET4 fragSECRET5`,
		`https://api.example/botT0SECRET2:XXSECRET3/sendMessage`,
	} {
		if got := s.scrub(text); strings.Contains(got, "SECRET") {
			t.Errorf("scrub(%q) = %q: a secret is left", text, got)
		}
	}
	if got := s.scrub("dial tcp 127.0.0.1:9: connect: connection refused"); got != "dial tcp 127.0.0.1:9: connect: connection refused" {
		t.Errorf("scrub changed a text without secrets: %q", got)
	}
	tg := "telegram://110201543:AAHdSECRET6@telegram?chats=@chan"
	got := newScrubber(tg, RedactTarget(tg)).scrub("sending telegram message: Post https://api.telegram.org/bot110201543:AAHdSECRET6/sendMessage: EOF")
	if strings.Contains(got, "SECRET") || !strings.Contains(got, "sending telegram message") {
		t.Errorf("scrubbed a Telegram error to %q, want the token gone and the service's name kept", got)
	}
}

// TestTargetErrorsHoldNoSecrets: refusing a notify URL and failing to
// deliver to one say why without quoting the URL's secrets.
func TestTargetErrorsHoldNoSecrets(t *testing.T) {
	for _, raw := range []string{
		"https://host.example:SECRET1/x",
		"https://host.example/%zzSECRET2",
		"telegram://110201543:AAHdSECRET3@telegram",
		"gotify://gotify.example/short?priority=SECRET4",
		"teams://groupSECRET5@tenant",
	} {
		_, err := Compile(wire.AlertRule{Name: "r", Kind: wire.AlertKindEvent, When: "true", Notify: []string{raw}})
		if err == nil {
			t.Errorf("%s: accepted", raw)
		} else if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("refusing %s: %v", raw, err)
		}
	}
	dead := "127.0.0.1:" + closedPort(t)
	for _, raw := range []string{
		"http://bot:pwSECRET1@" + dead + "/hook/SECRET2?token=SECRET3",
		"https://" + dead + "/services/T0SECRET4/B0SECRET5/XXSECRET6",
		"gotify://" + dead + "/AbcSECRET7",
		"ntfy://user:pwSECRET8@" + dead + "/topicSECRET9?scheme=http",
		"generic://" + dead + "/x?token=SECRET10&disabletls=yes",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := mustTarget(t, raw).send(ctx, wire.Alert{Rule: "r", Message: "m"})
		cancel()
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("delivering to %s: %v, want an error without its secrets", raw, err)
		}
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}
