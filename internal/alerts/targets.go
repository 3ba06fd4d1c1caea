package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/nicholas-fedor/shoutrrr"
	"github.com/nicholas-fedor/shoutrrr/pkg/router"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// target is one place alerts are delivered to.
type target interface {
	// send delivers a once; the context bounds the attempt.
	send(ctx context.Context, a wire.Alert) error
	// key identifies the target (its full URL): one queue per key.
	key() string
	// String is the URL without its secrets (redact), for records and logs;
	// send's errors never hold them either.
	String() string
}

// parseTarget resolves a notify URL: plain http(s) is a JSON webhook,
// anything else must be a scheme Shoutrrr knows. Its errors never quote
// the URL's secrets.
func parseTarget(raw string) (target, error) {
	if len(raw) > maxTargetsLen {
		return nil, fmt.Errorf("URL longer than %d bytes", maxTargetsLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %s", unquote(err))
	}
	if u.Scheme == "" {
		return nil, errors.New("no scheme: want http(s):// or a Shoutrrr URL such as ntfy://ntfy.sh/topic")
	}
	safe := redact(u)
	scrub := newScrubber(raw, safe)
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("%s has no host", safe)
		}
		return &webhook{url: raw, safe: safe, scrub: scrub, client: &http.Client{}}, nil
	}
	sender, err := shoutrrr.CreateSender(raw)
	if err != nil {
		if errors.Is(err, router.ErrUnknownService) {
			return nil, fmt.Errorf("unknown scheme %q: want http, https or a Shoutrrr service (ntfy, slack, discord, telegram, smtp, gotify, pushover…)", clip(u.Scheme))
		}
		return nil, scrub.error(safe, err)
	}
	return &shoutrrrTarget{url: raw, safe: safe, scrub: scrub, sender: sender}, nil
}

// webhook POSTs the alert as JSON (wire.Alert) to an http(s) URL; any 2xx
// answer is a success.
type webhook struct {
	url, safe string
	scrub     scrubber
	client    *http.Client
}

func (w *webhook) key() string    { return w.url }
func (w *webhook) String() string { return w.safe }

func (w *webhook) send(ctx context.Context, a wire.Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding alert: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return w.scrub.error("request "+w.safe, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "crowsnest-alerts")
	resp, err := w.client.Do(req)
	if err != nil {
		// The client's error repeats the URL, and a redirect's URLs.
		return w.scrub.error("POST "+w.safe, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drained so the connection is reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: %s", w.safe, resp.Status)
	}
	return nil
}

// shoutrrrTarget sends the alert's message through a Shoutrrr service.
type shoutrrrTarget struct {
	url, safe string
	scrub     scrubber
	sender    *router.ServiceRouter
}

func (s *shoutrrrTarget) key() string    { return s.url }
func (s *shoutrrrTarget) String() string { return s.safe }

// send runs Shoutrrr's blocking send in its own goroutine, because it takes
// no context: the attempt ends at the deadline even when the service hangs.
func (s *shoutrrrTarget) send(ctx context.Context, a wire.Alert) error {
	done := make(chan error, 1)
	go func() { done <- errors.Join(s.sender.Send(a.Message, nil)...) }()
	select {
	case err := <-done:
		if err != nil {
			return s.scrub.error(s.safe, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", s.safe, ctx.Err())
	}
}
