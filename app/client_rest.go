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

// apiClient is the wasm side's REST client. In the browser net/http runs on
// fetch, so the session cookie set by the login page goes with every
// request, as with the sockets.
var apiClient = &http.Client{Timeout: 30 * time.Second}

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

// origin is the page's scheme and host: URLs are made absolute because the
// wasm fetch transport is given the URL as it is.
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
	return apiDoWith(ctx, apiClient, method, path, body, out)
}

// apiDoWith is apiDo with another client, for a request that may take
// longer than apiClient's timeout.
func apiDoWith(ctx context.Context, cl *http.Client, method, path string, body any, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, origin()+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := cl.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w (%s %s: %v)", errUnreachable, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.Header, fmt.Errorf("%w (reading %s: %v)", errUnreachable, path, err)
	}
	if resp.StatusCode >= 400 {
		return resp.Header, decodeAPIError(resp.StatusCode, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return resp.Header, nil
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
