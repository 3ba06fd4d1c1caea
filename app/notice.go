package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// notice is what a page shows about its stream or request besides data.
type notice struct {
	kind noticeKind
	msg  string
}

// noticeKind says what kind of trouble a stream has.
type noticeKind int

const (
	noticeNone        noticeKind = iota // fine
	noticeUnavailable                   // this server has no such endpoint (an older build)
	noticeError                         // refused: bad request, not allowed, engine failure
	noticeAuth                          // needs a sign-in
)

// refusal is what a stream does when the server refuses to open it.
type refusal struct {
	notice notice
	retry  time.Duration // before looking again; 0: retrying cannot help
}

// refusalOf maps the status of a refused stream (websocket or server-sent
// events) to what the page shows and when to look again: an endpoint this
// server lacks is looked for again now and then (an upgrade may bring it),
// a sign-in may happen in another tab, a bad request stays bad. ok is false
// for any other status, a transient failure retried with backoff.
func refusalOf(status int, target, msg string) (r refusal, ok bool) {
	switch status {
	case http.StatusNotFound:
		return refusal{notice{noticeUnavailable, "this crowsnest server has no " + pathOnly(target) + " endpoint"}, time.Minute}, true
	case http.StatusBadRequest:
		return refusal{notice: notice{noticeError, msg}}, true
	case http.StatusUnauthorized, http.StatusForbidden:
		return refusal{notice{noticeAuth, msg}, 30 * time.Second}, true
	}
	return refusal{}, false
}

// pathOnly is target without its query.
func pathOnly(target string) string {
	p, _, _ := strings.Cut(target, "?")
	return p
}

// refuse puts s in the idle state with r's notice; the caller then waits
// r.retry, or gives up.
func (s stream) refuse(t *connTracker, r refusal) {
	t.stopped()
	conns.set(s.name, connIdle, "")
	s.notify(r.notice)
}

// dropped records that s's connection failed or was lost and waits before
// the next attempt; it reports whether ctx is still live.
func (s stream) dropped(ctx context.Context, t *connTracker, err error) bool {
	logWarn("%s: connection lost, reconnecting: %v", s.name, err)
	wait := t.lost()
	conns.set(s.name, t.state, "connection lost: "+err.Error())
	return sleepCtx(ctx, wait)
}

// notify tells the page about trouble, or that it is over.
func (s stream) notify(n notice) {
	if s.onNotice != nil {
		s.onNotice(n)
	}
}

// noticeOf classifies a REST error for noticeView.
func noticeOf(err error) notice {
	switch {
	case err == nil:
		return notice{}
	case isStatus(err, 404):
		return notice{kind: noticeUnavailable, msg: "this crowsnest server does not offer it"}
	case isStatus(err, 401):
		return notice{kind: noticeAuth, msg: describeErr(err)}
	default:
		return notice{kind: noticeError, msg: describeErr(err)}
	}
}

// noticeView renders a stream's or a request's trouble for a page: "not
// available" for an endpoint this server lacks, a sign-in link, or the
// error. It renders nothing when all is well.
func noticeView(id string, n notice) app.UI {
	switch n.kind {
	case noticeUnavailable:
		return app.Div().ID(id).Class("notice notice-muted").Role("status").Body(
			app.Strong().Text("Not available. "),
			app.Span().Text(n.msg+"."),
		)
	case noticeAuth:
		return app.Div().ID(id).Class("notice notice-warn").Role("alert").Body(
			app.Span().Text(n.msg+" "),
			app.A().Href(loginPath(app.Window().URL().RequestURI())).Text("Sign in"),
		)
	case noticeError:
		return app.Div().ID(id).Class("notice notice-error").Role("alert").Text(n.msg)
	default:
		return nil
	}
}
