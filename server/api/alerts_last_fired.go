package api

import (
	"context"
	"fmt"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// setLastFired sets each rule's LastFired to its newest stored firing, so
// the alerts page reads its list in one request rather than one a rule.
func (s *Server) setLastFired(ctx context.Context, rules []wire.AlertRule) error {
	for i := range rules {
		page, err := s.store.Query(ctx, store.Query{
			Filter:  store.Filter{Type: wire.AlertEventType, Tags: []string{"alert:" + rules[i].Name}},
			PerPage: 1,
		})
		if err != nil {
			return fmt.Errorf("last firing of alert rule %q: %w", rules[i].Name, err)
		}
		if len(page.Events) > 0 {
			rules[i].LastFired = page.Events[0].Timestamp
		}
	}
	return nil
}
