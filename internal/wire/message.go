package wire

// Message is the body of every JSON error ({"message": "…"}) and the first
// frame of the DockStat sockets ({"message":"Connection established"}).
type Message struct {
	Message string `json:"message"`
}

// ConnectionEstablished is the greeting the DockStat sockets send first.
var ConnectionEstablished = Message{Message: "Connection established"}
