package wire

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
