package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// The app talks to the server through the browser's fetch directly rather
// than through net/http's Client. In the browser that Client runs on fetch
// too, but it links net/http's whole Transport (TLS, HTTP/2, proxies) for
// the platforms without fetch: about 5 MB of app.wasm, 1 MB over the wire
// once compressed, which the first visit waits for. fetch also sends the
// session cookie, as the sockets do.

// fetchRequest is one request for doFetch.
type fetchRequest struct {
	method string
	url    string // absolute
	header map[string]string
	body   string // sent when not empty
}

// fetchResponse is an answer whose body the caller must close.
type fetchResponse struct {
	status int
	header http.Header
	body   io.ReadCloser
}

// doFetch sends req with fetch. The body arrives as it is read, so a
// long-lived stream (the event store's server-sent events) can be read line
// by line. Ending ctx aborts the request, and a read blocked on the body.
// A failure of fetch itself (no answer) is errUnreachable.
func doFetch(ctx context.Context, req fetchRequest) (*fetchResponse, error) {
	if !app.IsClient {
		return nil, fmt.Errorf("%w: fetch runs only in a browser", errUnreachable)
	}
	abort := app.Window().Get("AbortController").New()
	stop := context.AfterFunc(ctx, func() { abort.Call("abort") })
	headers := map[string]any{}
	for k, v := range req.header {
		headers[k] = v
	}
	init := map[string]any{
		"method":      req.method,
		"headers":     headers,
		"credentials": "same-origin",
		"signal":      abort.Get("signal"),
	}
	if req.body != "" {
		init["body"] = req.body
	}
	resp, err := await(app.Window().Call("fetch", req.url, init))
	if err != nil {
		stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w (%s %s: %v)", errUnreachable, req.method, req.url, err)
	}
	return &fetchResponse{
		status: resp.Get("status").Int(),
		header: responseHeader(resp.Get("headers")),
		body:   &fetchBody{ctx: ctx, reader: resp.Get("body").Call("getReader"), stop: stop, abort: abort},
	}, nil
}

// responseHeader copies a fetch Headers object.
func responseHeader(h app.Value) http.Header {
	out := http.Header{}
	it := h.Call("entries")
	for {
		next := it.Call("next")
		if next.Get("done").Bool() {
			return out
		}
		pair := next.Get("value")
		out.Add(pair.Index(0).String(), pair.Index(1).String())
	}
}

// fetchBody reads a fetch answer's ReadableStream.
type fetchBody struct {
	ctx    context.Context
	reader app.Value // ReadableStreamDefaultReader
	stop   func() bool
	abort  app.Value
	rest   []byte // of the last chunk, not yet read
	err    error  // once the stream ended or failed
}

// Read returns the next bytes of the body, waiting for a chunk when none is
// left.
func (b *fetchBody) Read(p []byte) (int, error) {
	for len(b.rest) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		chunk, err := await(b.reader.Call("read"))
		switch {
		case err != nil && b.ctx.Err() != nil:
			b.err = b.ctx.Err()
		case err != nil:
			b.err = fmt.Errorf("read answer: %w", err)
		case chunk.Get("done").Bool():
			b.err = io.EOF
		default:
			v := chunk.Get("value")
			b.rest = make([]byte, v.Length())
			app.CopyBytesToGo(b.rest, v)
		}
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

// Close stops the download of whatever is left of the body.
func (b *fetchBody) Close() error {
	b.stop()
	if b.err == nil {
		b.err = errors.New("read after close")
		b.abort.Call("abort")
	}
	return nil
}

// await waits for a JavaScript promise: its value, or its rejection as an
// error. The callbacks only hand over the result: they run on the browser's
// event loop, which must not block.
func await(promise app.Value) (app.Value, error) {
	type settled struct {
		v   app.Value
		err error
	}
	done := make(chan settled, 1)
	arg := func(args []app.Value) app.Value {
		if len(args) == 0 {
			return app.Undefined()
		}
		return args[0]
	}
	onOK := app.FuncOf(func(_ app.Value, args []app.Value) any {
		done <- settled{v: arg(args)}
		return nil
	})
	defer onOK.Release()
	onErr := app.FuncOf(func(_ app.Value, args []app.Value) any {
		done <- settled{err: jsError(arg(args))}
		return nil
	})
	defer onErr.Release()
	promise.Call("then", onOK, onErr)
	s := <-done
	return s.v, s.err
}

// jsError is a rejection reason as a Go error: a JavaScript Error's message,
// or the value itself.
func jsError(reason app.Value) error {
	if reason.IsUndefined() || reason.IsNull() {
		return errors.New("rejected without a reason")
	}
	if msg := reason.Get("message"); msg.Type() == app.TypeString {
		return errors.New(msg.String())
	}
	return errors.New(reason.Call("toString").String())
}
