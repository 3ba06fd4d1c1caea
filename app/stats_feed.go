package main

import (
	"encoding/json"
	"net/url"
	"sync"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// statsFeed collects /docker/stats frames from the stream goroutine and
// hands them to the UI in batches. A frame comes per container per interval:
// with 100 containers, rendering each would redraw the table 100 times a
// second; a batch redraws it once.
type statsFeed struct {
	mu        sync.Mutex
	stats     []wire.Stats
	errs      []wire.StatsError
	scheduled bool
}

// add decodes one frame. It reports whether the caller should schedule a
// flush (none is scheduled yet). The greeting and unknown frames are ignored;
// a frame that does not decode is an error for the console.
func (f *statsFeed) add(data []byte) (schedule bool, err error) {
	var probe struct {
		ID      string `json:"id"`
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case probe.ID != "":
		var s wire.Stats
		if err := json.Unmarshal(data, &s); err != nil {
			return false, err
		}
		f.stats = append(f.stats, s)
	case probe.Error != "":
		var e wire.StatsError
		if err := json.Unmarshal(data, &e); err != nil {
			return false, err
		}
		f.errs = append(f.errs, e)
	default:
		return false, nil // {"message":"Connection established"}
	}
	if f.scheduled {
		return false, nil
	}
	f.scheduled = true
	return true, nil
}

// take returns and clears what arrived since the last take.
func (f *statsFeed) take() ([]wire.Stats, []wire.StatsError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, e := f.stats, f.errs
	f.stats, f.errs, f.scheduled = nil, nil, false
	return s, e
}

// socket is the /docker/stats stream (q picks one container, nil every
// running one) feeding f: flush runs on the UI goroutine flushEvery after
// the first frame of each batch, and the stream's trouble goes to onNotice.
func (f *statsFeed) socket(ctx app.Context, name string, q url.Values, flushEvery time.Duration, flush func(app.Context), onNotice func(notice)) stream {
	return stream{
		name:   name,
		target: func() string { return statsSocket(q) },
		onFrame: func(data []byte) {
			schedule, err := f.add(data)
			if err != nil {
				app.Logf("%s: bad frame: %v", name, err)
				return
			}
			if schedule {
				ctx.After(flushEvery, flush)
			}
		},
		onNotice: onNotice,
	}
}
