package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// The event store's stream is read with fetch and parsed here rather than
// through the browser's EventSource: EventSource hands a named event
// ("event: deploy") only to a listener registered for that exact name, and
// the store's event types are open-ended, so it would silently drop every
// type the page did not know in advance. Reading the stream directly sees
// every event, and sets Last-Event-ID itself on each reconnect, which is
// what EventSource would have done.

// sseEvent is one dispatched server-sent event.
type sseEvent struct {
	id    string
	event string
	data  string
}

// sseParser assembles events from a stream's lines as the HTML standard's
// event-stream interpretation does: fields accumulate until a blank line,
// data lines join with "\n", comments (":…") and unknown fields are ignored,
// and an id persists across events.
type sseParser struct {
	lastID string
	event  string
	data   strings.Builder
	hasAny bool
}

// line feeds one line (without its line ending) and returns an event when
// the line completes one.
func (p *sseParser) line(l string) (sseEvent, bool) {
	if l == "" {
		if !p.hasAny {
			p.event = ""
			return sseEvent{}, false
		}
		ev := sseEvent{id: p.lastID, event: p.event, data: p.data.String()}
		if ev.event == "" {
			ev.event = "message"
		}
		p.event, p.hasAny = "", false
		p.data.Reset()
		return ev, true
	}
	if strings.HasPrefix(l, ":") {
		return sseEvent{}, false // comment: the heartbeat
	}
	field, value, _ := strings.Cut(l, ":")
	value = strings.TrimPrefix(value, " ")
	switch field {
	case "event":
		p.event = value
	case "data":
		if p.hasAny {
			p.data.WriteByte('\n')
		}
		p.data.WriteString(value)
		p.hasAny = true
	case "id":
		if !strings.ContainsRune(value, 0) {
			p.lastID = value
		}
	}
	return sseEvent{}, false
}

// sseStream describes a server-sent event stream a page keeps open: a
// stream (its onFrame unused) whose events go to onEvent.
type sseStream struct {
	stream
	onEvent func(sseEvent)
}

// runSSE reads the stream until ctx ends, reconnecting with backoff and
// resuming after the last id seen (Last-Event-ID), so no event is lost to a
// restart. The server's heartbeat comment every 15 s keeps it from looking
// dead; a read that stalls for twice that is treated as a lost connection.
func runSSE(ctx context.Context, s sseStream) {
	var t connTracker
	var p sseParser
	defer conns.set(s.name, connIdle, "")
	for ctx.Err() == nil {
		t.connecting()
		conns.set(s.name, t.state, "")
		target := s.target()
		err := readSSE(ctx, s, target, &p, func() {
			t.opened()
			conns.set(s.name, connLive, "")
			s.notify(notice{})
			if s.onOpen != nil {
				s.onOpen()
			}
		})
		if ctx.Err() != nil {
			return
		}
		var ae *apiError
		if errors.As(err, &ae) {
			if r, ok := refusalOf(ae.Status, target, ae.Error()); ok {
				s.refuse(&t, r)
				if r.retry == 0 || !sleepCtx(ctx, r.retry) {
					return
				}
				continue
			}
		}
		if !s.dropped(ctx, &t, err) {
			return
		}
	}
}

// readSSE runs one connection of s.
func readSSE(ctx context.Context, s sseStream, target string, p *sseParser, opened func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := fetchRequest{method: http.MethodGet, url: origin() + target, header: map[string]string{"Accept": "text/event-stream"}}
	if p.lastID != "" {
		req.header["Last-Event-ID"] = p.lastID
	}
	// No time limit: the stream is meant to last; the watchdog below
	// notices a dead one.
	resp, err := doFetch(ctx, req)
	if err != nil {
		return errUnreachable
	}
	defer resp.body.Close()
	if resp.status != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.body, 64<<10))
		return decodeAPIError(resp.status, data)
	}
	opened()
	lines := make(chan string, 64)
	errc := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(resp.body)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		for sc.Scan() {
			select {
			case lines <- strings.TrimSuffix(sc.Text(), "\r"):
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil {
			errc <- err
			return
		}
		errc <- io.EOF
	}()
	watchdog := time.NewTimer(35 * time.Second)
	defer watchdog.Stop()
	for {
		select {
		case l := <-lines:
			watchdog.Reset(35 * time.Second)
			if ev, ok := p.line(l); ok {
				s.onEvent(ev)
			}
		case err := <-errc:
			return err
		case <-watchdog.C:
			return errStalled
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// errStalled is a stream that sent nothing, not even a heartbeat, for longer
// than the server's heartbeat interval allows.
var errStalled = errors.New("no data or heartbeat for 35 s")
