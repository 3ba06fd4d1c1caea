package main

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// logWarn writes to the browser console as a warning. app.Logf turns any
// message with an error argument into console.error, which is for faults;
// an expected event such as a stream dropped by a server restart, which the
// client reconnects from on its own, is worth a line but is not one.
func logWarn(format string, args ...any) {
	app.Window().Get("console").Call("warn", fmt.Sprintf(format, args...))
}
