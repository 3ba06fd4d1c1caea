package logs

import (
	"context"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// runView reads v as a server stream does: the backlog, then the live lines
// the viewer wants until they end, with what was queued before the end. It
// returns why the view ended.
func runView(ctx context.Context, v *View, send func(wire.LogLine) error) error {
	if err := v.Backlog(ctx, send); err != nil {
		return err
	}
	live := func(l wire.LogLine) error {
		if !v.Wants(l) {
			return nil
		}
		return send(l)
	}
	for {
		select {
		case l := <-v.C():
			if err := live(l); err != nil {
				return err
			}
		case <-v.Done():
			for {
				select {
				case l := <-v.C():
					if err := live(l); err != nil {
						return err
					}
				default:
					return v.Err()
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
