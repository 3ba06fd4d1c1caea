package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/server/respond"
	"github.com/crowsnest-hq/crowsnest/server/stream"
)

// statsEndpoint labels the /docker/stats socket in metrics.
const statsEndpoint = "docker_stats"

// maxStatsInterval bounds the interval a client may ask for; beyond it a
// client is better served by polling /api/v1/containers.
const maxStatsInterval = time.Hour

// handleStatsWS serves DockStat's "Docker Stats socket": a greeting, then a
// frame per running container per interval, from every engine, and an
// error frame per interval for each engine that cannot be reached.
func (s *Server) handleStatsWS(w http.ResponseWriter, r *http.Request) {
	q, err := parseStatsQuery(r)
	if err != nil {
		respond.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.stats == nil {
		respond.Error(w, http.StatusServiceUnavailable, "stats are not being collected")
		return
	}
	watch, err := s.stats.Subscribe(q)
	if err != nil {
		respond.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	defer watch.Close()
	var frames [][]byte
	stream.Socket(s.streams, w, r, stream.Spec[*stats.Batch]{
		Endpoint: statsEndpoint,
		Source:   watch,
		Out:      s.metrics.statsSamples,
		Resume:   func() string { return "; reconnect" },
		Start: func(_ context.Context, send func([]byte) error) error {
			if err := send(greeting); err != nil {
				return err
			}
			frames = watch.Select(watch.Initial(), frames[:0])
			for _, f := range frames {
				if err := send(f); err != nil {
					return err
				}
			}
			return nil
		},
		Frames: func(b *stats.Batch, dst [][]byte) ([][]byte, error) { return watch.Select(b, dst), nil },
	})
}

// parseStatsQuery reads host, container and interval. The interval is a
// Go duration ("2s", "1m") or a number of seconds ("5", "1.5").
func parseStatsQuery(r *http.Request) (stats.Query, error) {
	v := r.URL.Query()
	q := stats.Query{Host: v.Get("host"), Container: v.Get("container"), Interval: stats.DefaultInterval}
	if raw := strings.TrimSpace(v.Get("interval")); raw != "" {
		d, err := parseInterval(raw)
		if err != nil {
			return q, err
		}
		q.Interval = d
	}
	return q, nil
}

func parseInterval(raw string) (time.Duration, error) {
	d, err := time.ParseDuration(raw)
	if err != nil {
		secs, perr := strconv.ParseFloat(raw, 64)
		if perr != nil {
			return 0, fmt.Errorf("interval %q: want a duration such as 2s or a number of seconds", raw)
		}
		if secs != secs || secs > maxStatsInterval.Seconds() { // NaN or huge
			return 0, fmt.Errorf("interval %q: at most %v", raw, maxStatsInterval)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < stats.MinInterval {
		return 0, fmt.Errorf("interval %q: at least %v", raw, stats.MinInterval)
	}
	if d > maxStatsInterval {
		return 0, fmt.Errorf("interval %q: at most %v", raw, maxStatsInterval)
	}
	return d, nil
}
