package wire

// Session is GET /api/v1/session: what the caller's credential may do, so a
// UI can offer only the actions the server will allow. Auth is whether the
// server checks credentials at all; Scope is "admin", "read", or "" for a
// caller without a valid credential (an open server answers "admin").
type Session struct {
	Auth  bool   `json:"auth"`
	Scope string `json:"scope"`
}
