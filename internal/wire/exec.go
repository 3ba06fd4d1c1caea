package wire

import "time"

// ExecEventType is the type of the audit events of exec sessions (a shell
// in a container): crowsnest stores one when a session starts and one when
// it ends, and refuses clients that post events of this type, so the record
// cannot be forged.
const ExecEventType = "exec"

// The tags that tell an exec session's two events apart.
const (
	ExecStartTag = "exec:start"
	ExecEndTag   = "exec:end"
)

// Caller is who made a request: the scope of the credential and which
// credential it was, by a name that is no secret ("token-" and the first 8
// hex digits of the token's SHA-256, "hyper-" and the access key, "open" on
// a server without credentials).
type Caller struct {
	Scope      string `json:"scope"`
	Credential string `json:"credential"`
}

// ExecSession is the value of an exec event: who ran what in which
// container. The start event leaves End, ExitCode and Duration out; the end
// event has them all (ExitCode nil when the process was still running as
// the session was cut, by the client leaving or the idle timeout). What was
// typed and printed is never recorded.
type ExecSession struct {
	Actor     Caller     `json:"actor"`
	Container string     `json:"container"` // its name
	ID        string     `json:"id"`        // its full ID
	Host      string     `json:"host"`
	Command   []string   `json:"command"`
	User      string     `json:"user,omitempty"`
	Workdir   string     `json:"workdir,omitempty"`
	Start     time.Time  `json:"start"`
	End       *time.Time `json:"end,omitempty"`
	ExitCode  *int       `json:"exitCode,omitempty"`
	Duration  float64    `json:"duration,omitempty"` // seconds
	Reason    string     `json:"reason,omitempty"`   // why the session ended
}

// ExecFrame is a text frame of the exec socket: {"type":"resize","cols",
// "rows"} from the client, {"type":"exit","code"} from the server.
type ExecFrame struct {
	Type string `json:"type"`
	Cols uint   `json:"cols,omitempty"`
	Rows uint   `json:"rows,omitempty"`
	Code *int   `json:"code,omitempty"`
}
