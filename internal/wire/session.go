package wire

// Session is GET /api/v1/session: what the caller's credential may do, so a
// UI can offer only the actions the server will allow. Auth is whether the
// server checks credentials at all; Scope is "admin", "read", or "" for a
// caller without a valid credential (an open server answers "admin"). Exec
// is whether the caller may open a shell in a container: an admin, unless
// the server runs with --no-exec.
type Session struct {
	Auth  bool   `json:"auth"`
	Scope string `json:"scope"`
	Exec  bool   `json:"exec"`
}
