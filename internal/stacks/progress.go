package stacks

import (
	"context"
	"strings"
	"sync"

	"github.com/docker/compose/v5/pkg/api"
)

// progress turns the compose library's resource events into stack-progress
// lines. compose reports every resource many times (a pulled layer once per
// chunk); a line is sent only when a resource's text changes, so a pull
// comes out as one line per layer state.
type progress struct {
	emit func(message string)

	mu     sync.Mutex
	last   map[string]string // resource ID → text last sent
	failed []string          // resources compose reported an error for
}

func newProgress(emit func(string)) *progress {
	return &progress{emit: emit, last: make(map[string]string)}
}

// Start is called as a compose operation begins; the stack-status pending
// message already said so.
func (p *progress) Start(context.Context, string) {}

// Done is called as a compose operation ends; its outcome is the error the
// operation returns, reported by the worker.
func (p *progress) Done(string, bool) {}

// On sends a line for each resource whose text changed. compose calls it
// from many goroutines; the lock keeps the lines in the order compose
// reported them.
func (p *progress) On(events ...api.Resource) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range events {
		key := e.ParentID + "\x00" + e.ID
		if e.Text == "" || p.last[key] == e.Text {
			continue
		}
		p.last[key] = e.Text
		if e.Status == api.Error && e.ParentID == "" {
			p.failed = append(p.failed, e.ID)
		}
		p.emit(progressLine(e))
	}
}

// progressLine words one resource event the way the DockStat examples do:
// an action under way reads "Creating network my_stack_default", a state
// reached reads "Container web-1 Started". Pull progress of a layer names
// its image; errors and warnings carry compose's details.
func progressLine(e api.Resource) string {
	var line string
	kind, name, hasKind := strings.Cut(e.ID, " ")
	switch {
	case e.ParentID != "":
		line = e.ParentID + ": layer " + e.ID + " " + e.Text
	case e.ID == api.ResourceCompose || e.ID == "":
		line = e.Text
	case hasKind && strings.HasSuffix(e.Text, "ing") && !strings.Contains(e.Text, " "):
		line = e.Text + " " + strings.ToLower(kind) + " " + name
	default:
		line = e.ID + " " + e.Text
	}
	if e.Details != "" && (e.Status == api.Error || e.Status == api.Warning || e.ParentID == "") {
		line += ": " + e.Details
	}
	return line
}

// explain adds to an action's error the resources compose reported failing
// that its text does not name: compose's pull error carries only the
// engine's words, not the image they are about.
func (p *progress) explain(err error) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := err.Error()
	var missing []string
	for _, id := range p.failed {
		if !strings.Contains(msg, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		msg += " (failed: " + strings.Join(missing, ", ") + ")"
	}
	return msg
}
