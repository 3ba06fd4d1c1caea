package docker

import "github.com/crowsnest-hq/crowsnest/internal/wire"

// cursor is where an engine's event stream resumes, and what it must not
// deliver twice. The engine's "since" is inclusive to the nanosecond, so a
// resumed stream repeats the events at the cursor's timeNano; cursor
// remembers which of those were already passed on.
type cursor struct {
	nano int64               // timeNano to resume from; 0: none yet
	all  bool                // every event at nano was delivered (resume point from outside)
	keys map[string]struct{} // events at nano already delivered
}

// after returns a cursor that treats everything up to and including nano as
// delivered: the resume point handed in from the store.
func after(nano int64) cursor { return cursor{nano: nano, all: true} }

// from returns a cursor that delivers everything from nano on, inclusive.
func from(nano int64) cursor { return cursor{nano: nano} }

// set reports whether the cursor has a resume point.
func (c *cursor) set() bool { return c.nano != 0 }

// seen reports whether ev was already delivered.
func (c *cursor) seen(ev wire.ContainerEvent) bool {
	switch {
	case ev.TimeNano < c.nano:
		return true
	case ev.TimeNano > c.nano:
		return false
	case c.all:
		return true
	default:
		_, ok := c.keys[eventKey(ev)]
		return ok
	}
}

// advance records ev as delivered.
func (c *cursor) advance(ev wire.ContainerEvent) {
	if ev.TimeNano > c.nano {
		c.nano, c.all, c.keys = ev.TimeNano, false, nil
	}
	if c.all {
		return
	}
	if c.keys == nil {
		c.keys = make(map[string]struct{})
	}
	c.keys[eventKey(ev)] = struct{}{}
}

// eventKey tells apart events of one nanosecond: two events of one container
// with one action cannot share a timestamp.
func eventKey(ev wire.ContainerEvent) string { return ev.Actor.ID + "\x00" + ev.Action }
