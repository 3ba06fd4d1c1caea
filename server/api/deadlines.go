package api

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Connection deadlines of the request/response routes (not the streams).
// http.Server's own ReadTimeout and WriteTimeout cannot be used: they cover
// a connection's whole request, so they would cut every websocket and SSE
// stream after that long. Without any bound, though, a client that dribbles
// a request body or never reads its response holds a goroutine, a
// connection and the response's buffers for ever; a few thousand such
// clients exhaust the server. Variables so tests can shorten them.
var (
	// BodyReadTimeout bounds reading a request body, from the handler's
	// start: bodies are at most a few MiB (body.MaxSize, the signed-body
	// limit), which even a slow link sends well within it.
	BodyReadTimeout = time.Minute
	// WriteStallTimeout bounds each write of a response: a client that
	// takes its answer at any pace keeps going, one that stops reading is
	// cut once the socket buffers are full and a write waits this long.
	WriteStallTimeout = 30 * time.Second
)

// withDeadlines applies BodyReadTimeout and WriteStallTimeout to a
// request/response handler. net/http clears the write deadline after every
// request and sets the read deadline anew before the next one, so nothing
// leaks into a later request on the same connection (a websocket upgraded
// on a kept-alive connection starts without deadlines).
func withDeadlines(next http.Handler) http.Handler {
	return withBodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&stallWriter{ResponseWriter: w, rc: http.NewResponseController(w)}, r)
	}))
}

// withBodyDeadline applies BodyReadTimeout alone. The stream routes get it
// too: a signed request's body is read (and hashed) before any handler, so a
// body dribbled to a socket's route must be bounded as well. Once the body
// is read to its end the deadline is lifted, so an upgraded socket starts
// without one.
func withBodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			// Only for a body: with none, net/http is already reading
			// the connection in the background (to notice the client
			// leaving), and a deadline there would cancel the request's
			// context in the middle of a slow query.
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(BodyReadTimeout)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the body has been read to its
// end, for the same reason as above: from then on net/http's background read
// owns the connection.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

// Read reads the body and clears the deadline at its end or on an error.
func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done {
		b.done = true
		if errors.Is(err, io.EOF) {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// stallWriter moves the write deadline forward before every write, so a
// response of any size goes through at any pace as long as it moves.
type stallWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

// Write sets the deadline of this write, then writes.
func (s *stallWriter) Write(p []byte) (int, error) {
	_ = s.rc.SetWriteDeadline(time.Now().Add(WriteStallTimeout)) // best effort: an unsupported writer just has no bound
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer
// (Flush, deadlines) through the wrapper.
func (s *stallWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
