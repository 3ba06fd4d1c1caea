package main

import (
	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// editor is the state of a page's form that saves through the REST API
// (the stacks and alerts pages): busy while a call runs, then the server's
// objection or what was done.
type editor struct {
	err, ok string
	busy    bool
}

// sendEditor runs one REST call for an editor and shows its outcome: the
// server's 400 message (what is wrong with what was sent) under the form,
// or done; after a success the page's lists reload and after, when set,
// gets the record the server answered with.
func sendEditor[T any](ctx app.Context, e *editor, reload reloader, method, path string, body any, done string, after func(app.Context, *T)) {
	e.busy, e.err, e.ok = true, "", ""
	ctx.Async(func() {
		var v T
		_, err := apiDo(ctx, method, path, body, &v)
		ctx.Dispatch(func(ctx app.Context) {
			e.busy = false
			if err != nil {
				e.err = describeErr(err)
				return
			}
			e.ok = done
			reload.request()
			if after != nil {
				after(ctx, &v)
			}
		})
	})
}
