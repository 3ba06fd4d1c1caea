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
	"strings"

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
	// String is the URL without its secrets, for records and logs.
	String() string
}

// parseTarget resolves a notify URL: plain http(s) is a JSON webhook,
// anything else must be a scheme Shoutrrr knows.
func parseTarget(raw string) (target, error) {
	if len(raw) > maxTargetsLen {
		return nil, fmt.Errorf("URL longer than %d bytes", maxTargetsLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("%q has no scheme: want http(s):// or a Shoutrrr URL such as ntfy://ntfy.sh/topic", clip(redact(u)))
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("%q has no host", clip(redact(u)))
		}
		return &webhook{url: raw, safe: redact(u), client: &http.Client{}}, nil
	}
	sender, err := shoutrrr.CreateSender(raw)
	if err != nil {
		if errors.Is(err, router.ErrUnknownService) {
			return nil, fmt.Errorf("unknown scheme %q: want http, https or a Shoutrrr service (ntfy, slack, discord, telegram, smtp, gotify, pushover…)", clip(u.Scheme))
		}
		return nil, fmt.Errorf("%s: %v", redact(u), err)
	}
	return &shoutrrrTarget{url: raw, safe: redact(u), sender: sender}, nil
}

// redact keeps a URL's scheme, host and path, dropping the user
// information and query, where tokens and passwords live.
func redact(u *url.URL) string {
	s := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	if u.User != nil {
		s = strings.Replace(s, "://", "://***@", 1)
	}
	if u.RawQuery != "" {
		s += "?***"
	}
	return s
}

// RedactTarget returns a notify URL without its secrets (user information
// and query), as delivery records show it.
func RedactTarget(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return redact(u)
}

// webhook POSTs the alert as JSON (wire.Alert) to an http(s) URL; any 2xx
// answer is a success.
type webhook struct {
	url, safe string
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
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "crowsnest-alerts")
	resp, err := w.client.Do(req)
	if err != nil {
		// The client's error repeats the URL, secrets included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("POST %s: %w", w.safe, err)
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
			return fmt.Errorf("%s: %w", s.safe, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", s.safe, ctx.Err())
	}
}
