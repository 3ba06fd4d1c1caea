package wire

import "strconv"

// ContainerEvent is a Docker engine event as /events/ws sends it: the shape of
// Hyper.sh's "Monitor events" document (Docker's own event JSON) plus Host,
// the name of the engine it came from.
type ContainerEvent struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
	Host     string `json:"host"`
	// StoreID is the event's id in crowsnest's store, set on /events/ws
	// messages (never in the stored value): a client resumes exactly after
	// it with after=StoreID.
	StoreID uint64 `json:"storeId,omitempty"`
}

// WithStoreID returns the stored frame of a container event (a JSON object,
// stored without storeId) with its store id added as the last field, so
// every client gets the same bytes without decoding the event again.
func WithStoreID(frame []byte, id uint64) []byte {
	if len(frame) < 2 || frame[len(frame)-1] != '}' {
		return frame
	}
	out := make([]byte, 0, len(frame)+32)
	out = append(out, frame[:len(frame)-1]...)
	if len(frame) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"storeId":`...)
	out = strconv.AppendUint(out, id, 10)
	return append(out, '}')
}

// Actor is the object an event is about: a container's ID and its attributes
// (labels, image, name, exit code…).
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Name returns the container name the event carries, without a leading "/".
func (e ContainerEvent) Name() string {
	n := e.Actor.Attributes["name"]
	if len(n) > 0 && n[0] == '/' {
		return n[1:]
	}
	return n
}

// Image returns the image the event names: the "image" attribute, or the
// legacy "from" field when the attribute is absent.
func (e ContainerEvent) Image() string {
	if img, ok := e.Actor.Attributes["image"]; ok {
		return img
	}
	return e.From
}
