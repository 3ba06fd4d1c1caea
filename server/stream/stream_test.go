package stream

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
)

// endedSource is a source that ended before the stream started, with err.
type endedSource struct{ err error }

func (endedSource) C() <-chan string { return nil }

func (endedSource) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func (s endedSource) Err() error { return s.err }

// TestStartAfterTheSourceEnded checks what a stream sends first (a
// backlog) when its source ended before the stream started, as the log
// follow of a container that exits just after a viewer joins does: after a
// finish the backlog is still the client's and comes before the finish;
// after an overflow or a shutdown the stream stops at once.
func TestStartAfterTheSourceEnded(t *testing.T) {
	backlog := []string{"greeting", "line 1", "line 2"}
	cases := []struct {
		name  string
		err   error
		kind  kind
		wrote []string
	}{
		{"finished", Finish{Reason: "container stopped"}, finished, backlog},
		{"overflowed", hub.ErrOverflow, overflowed, nil},
		{"interrupted", hub.ErrClosed, interrupted, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var wrote []string
			sp := Spec[string]{
				Source: endedSource{c.err},
				Start: func(_ context.Context, send func([]byte) error) error {
					for _, f := range backlog {
						if err := send([]byte(f)); err != nil {
							return err
						}
					}
					return nil
				},
				Frames: func(v string, dst [][]byte) ([][]byte, error) { return append(dst, []byte(v)), nil },
			}
			e := run(context.Background(), sp, func(f []byte) error {
				wrote = append(wrote, string(f))
				return nil
			}, keepAlive{})
			if e.kind != c.kind {
				t.Errorf("stream ended as %d (%q, %v), want %d", e.kind, e.reason, e.err, c.kind)
			}
			if !slices.Equal(wrote, c.wrote) {
				t.Errorf("wrote %q, want %q", wrote, c.wrote)
			}
		})
	}
}

// TestStartWhileTheSourceEnds checks that a source finishing during Start
// neither cuts the backlog short nor loses what it queued before it ended.
func TestStartWhileTheSourceEnds(t *testing.T) {
	h := hub.New[string]()
	sub := h.Subscribe(8)
	src := finishing{sub}
	var wrote []string
	sp := Spec[string]{
		Source: src,
		Start: func(_ context.Context, send func([]byte) error) error {
			if err := send([]byte("backlog 1")); err != nil {
				return err
			}
			h.Publish("live 1")
			h.Close() // the container stopped
			return send([]byte("backlog 2"))
		},
		Frames: func(v string, dst [][]byte) ([][]byte, error) { return append(dst, []byte(v)), nil },
	}
	e := run(context.Background(), sp, func(f []byte) error {
		wrote = append(wrote, string(f))
		return nil
	}, keepAlive{})
	if want := []string{"backlog 1", "backlog 2", "live 1"}; !slices.Equal(wrote, want) {
		t.Errorf("wrote %q, want %q", wrote, want)
	}
	if e.kind != finished || e.reason != "container stopped" {
		t.Errorf("stream ended as %d (%q, %v), want finished: container stopped", e.kind, e.reason, e.err)
	}
}

// finishing is a subscription whose close is a finish, as a container log
// view's is when the container stops.
type finishing struct{ *hub.Subscription[string] }

func (f finishing) Err() error {
	if err := f.Subscription.Err(); !errors.Is(err, hub.ErrClosed) {
		return err
	}
	return Finish{Reason: "container stopped"}
}
