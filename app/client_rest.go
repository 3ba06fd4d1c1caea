package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// apiTimeout bounds an ordinary REST request, its answer read included.
const apiTimeout = 30 * time.Second

// apiError is an answer with an error status: the status and the server's
// {"message"}.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return http.StatusText(e.Status)
	}
	return e.Message
}

// errUnreachable wraps a failure to reach the server at all (the fetch
// itself failed), which the UI shows as "offline" rather than as an error of
// the request.
var errUnreachable = errors.New("the crowsnest server is unreachable")

// isStatus reports whether err is an apiError with the given status.
func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == status
}

// origin is the page's scheme and host: URLs are made absolute so they do
// not depend on the page's own path.
func origin() string {
	u := app.Window().URL()
	if u == nil || u.Host == "" {
		return "http://localhost"
	}
	return u.Scheme + "://" + u.Host
}

// apiDo sends a request and decodes a JSON answer into out (when out is not
// nil). It returns the answer's headers, for X-Total-Count and Link.
func apiDo(ctx context.Context, method, path string, body any, out any) (http.Header, error) {
	return apiDoWithin(ctx, apiTimeout, method, path, body, out)
}

// apiDoWithin is apiDo with another time limit, for a request that may take
// longer than apiTimeout.
func apiDoWithin(parent context.Context, limit time.Duration, method, path string, body any, out any) (http.Header, error) {
	req := fetchRequest{method: method, url: origin() + path, header: map[string]string{"Accept": "application/json"}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		req.body = string(b)
		req.header["Content-Type"] = "application/json"
	}
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	resp, err := doFetch(ctx, req)
	if err != nil {
		return nil, timedOut(parent, ctx, err, method+" "+path)
	}
	defer resp.body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.body, 32<<20))
	if err != nil {
		return resp.header, timedOut(parent, ctx, fmt.Errorf("%w (reading %s: %v)", errUnreachable, path, err), method+" "+path)
	}
	if resp.status >= 400 {
		return resp.header, decodeAPIError(resp.status, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.header, fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return resp.header, nil
}

// timedOut is err from a request run under ctx, a child of parent with a
// time limit: the parent's end as it is, the limit as an unreachable server.
func timedOut(parent, ctx context.Context, err error, what string) error {
	switch {
	case parent.Err() != nil:
		return parent.Err()
	case ctx.Err() != nil:
		return fmt.Errorf("%w (%s: no answer in time)", errUnreachable, what)
	default:
		return err
	}
}

// decodeAPIError reads {"message"} from an error answer; a body that is not
// one (a proxy's page) keeps its first line as the message.
func decodeAPIError(status int, data []byte) error {
	var m wire.Message
	if err := json.Unmarshal(data, &m); err == nil && m.Message != "" {
		return &apiError{Status: status, Message: m.Message}
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	if len(line) > 200 || strings.HasPrefix(line, "<") {
		line = ""
	}
	return &apiError{Status: status, Message: line}
}

// getJSON is GET path decoded into out.
func getJSON(ctx context.Context, path string, out any) (http.Header, error) {
	return apiDo(ctx, http.MethodGet, path, nil, out)
}

// describeErr is an error as a page shows it, with what to do about it.
func describeErr(err error) string {
	var ae *apiError
	switch {
	case errors.Is(err, errUnreachable):
		return "The crowsnest server is unreachable. The page will refresh when it is back."
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return "Sign in to see this: " + ae.Error()
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		return "Not allowed: " + ae.Error()
	case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
		return "Too many requests, try again in a moment: " + ae.Error()
	default:
		return err.Error()
	}
}
