package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/logs"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
	"github.com/crowsnest-hq/crowsnest/server/respond"
	"github.com/crowsnest-hq/crowsnest/server/stream"
)

// Container log socket limits.
const (
	defaultContainerTail = 100
	// maxContainerTail bounds a numeric tail; "all" asks for everything and
	// is streamed rather than held.
	maxContainerTail = 100_000
	// inspectTimeout bounds resolving the container before the upgrade.
	inspectTimeout        = 10 * time.Second
	containerLogsEndpoint = "container_logs_ws"
)

// containerLogsRequest is a parsed container log socket request.
type containerLogsRequest struct {
	host       string
	ref        string // ID, ID prefix or name
	tail       int    // negative: all
	since      time.Time
	timestamps bool
}

// handleContainerLogsWS serves one container's output as a socket: stdout
// and stderr lines with the engine's timestamps, a backlog of the last tail
// lines first, then live ones from the one follow all viewers of the
// container share. When the container stops the socket says so and closes
// normally.
func (s *Server) handleContainerLogsWS(w http.ResponseWriter, r *http.Request) {
	req, err := parseContainerLogsRequest(r, time.Now())
	if err != nil {
		respond.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	cli, err := s.engines.Client(req.host)
	if err != nil {
		s.fail(w, r, "following a container's logs", err)
		return
	}
	ictx, cancel := context.WithTimeout(r.Context(), inspectTimeout)
	info, err := cli.ContainerInspect(ictx, req.ref, client.ContainerInspectOptions{})
	cancel()
	switch {
	case cerrdefs.IsNotFound(err):
		s.fail(w, r, "following a container's logs", notFound(fmt.Errorf("no such container on %s: %s", req.host, req.ref)))
		return
	case err != nil:
		s.fail(w, r, "following a container's logs", fmt.Errorf("inspecting %s on %s: %w", req.ref, req.host, err))
		return
	}
	ctr := logs.Container{ID: info.Container.ID, TTY: info.Container.Config != nil && info.Container.Config.Tty}

	// Joined before the upgrade, so that a container whose logs cannot be
	// followed is an HTTP error rather than a socket that closes at once.
	view, err := s.containerLogs.Open(r.Context(), req.host, cli, ctr, logs.ViewOptions{
		Tail: req.tail, Since: req.since, Queue: s.streamQueue,
	})
	if err != nil {
		s.fail(w, r, "following a container's logs", fmt.Errorf("cannot follow the logs: %w", err))
		return
	}
	defer view.Close()
	var sent time.Time // timestamp of the last line sent, for the resume hint
	var taken uint64   // live lines read since the view (re)joined, for Rejoin
	frame := func(l wire.LogLine) ([]byte, error) {
		if !req.timestamps {
			l.Timestamp = time.Time{}
		}
		return json.Marshal(l)
	}
	stream.Socket(s.streams, w, r, stream.Spec[wire.LogLine]{
		Endpoint: containerLogsEndpoint,
		Source:   viewSource{view},
		Out:      s.metrics.eventsOut.WithLabelValues(containerLogsEndpoint),
		Resume: func() string {
			if sent.IsZero() {
				return ""
			}
			next := sent.Add(time.Nanosecond)
			return fmt.Sprintf("; resume with since=%d.%09d", next.Unix(), next.Nanosecond())
		},
		Start: func(ctx context.Context, send func([]byte) error) error {
			if err := greet(ctx, send); err != nil {
				return err
			}
			return view.Backlog(ctx, func(l wire.LogLine) error {
				b, err := frame(l)
				if err != nil {
					return err
				}
				if err := send(b); err != nil {
					return err
				}
				sent = l.Timestamp
				return nil
			})
		},
		Frames: func(l wire.LogLine, dst [][]byte) ([][]byte, error) {
			taken++
			if !view.Wants(l) {
				return dst, nil
			}
			b, err := frame(l)
			if err != nil {
				return dst, err
			}
			return append(dst, b), nil
		},
		Sent: func(l wire.LogLine) { sent = l.Timestamp },
		// A burst past the queue costs the viewer those lines, told in a
		// LogsSkipped frame, not the socket.
		Overflowed: func() ([]byte, error) {
			missed := view.Rejoin(taken)
			taken = 0
			return json.Marshal(skippedFrame(missed, sent))
		},
	})
}

// skippedFrame tells a viewer it missed n lines after the one stamped sent.
func skippedFrame(n uint64, sent time.Time) wire.LogsSkipped {
	f := wire.LogsSkipped{Skipped: n, Message: fmt.Sprintf("%d lines skipped: the viewer fell behind", n)}
	if !sent.IsZero() {
		next := sent.Add(time.Nanosecond)
		f.Since = fmt.Sprintf("%d.%09d", next.Unix(), next.Nanosecond())
		f.Message += "; resume with since=" + f.Since
	}
	return f
}

// viewSource is a log view as a stream source: a container that stopped
// finishes the stream with a message, and closed log streams interrupt it
// as a closed hub does.
type viewSource struct{ *logs.View }

// stoppedMessage is the last message of a container's log socket.
var stoppedMessage = mustJSON(wire.Message{Message: "container stopped"})

func (v viewSource) Err() error {
	err := v.View.Err()
	switch {
	case errors.Is(err, logs.ErrStopped):
		return stream.Finish{Reason: "container stopped", Last: stoppedMessage}
	case errors.Is(err, logs.ErrClosed):
		return fmt.Errorf("%w: %w", hub.ErrClosed, err)
	case err == nil, errors.Is(err, hub.ErrOverflow):
		return err
	}
	return fmt.Errorf("log stream failed: %w", err)
}

func parseContainerLogsRequest(r *http.Request, now time.Time) (containerLogsRequest, error) {
	q := r.URL.Query()
	req := containerLogsRequest{host: q.Get("host"), ref: r.PathValue("id"), tail: defaultContainerTail, timestamps: true}
	if req.host == "" {
		req.host = docker.DefaultHostName
	}
	if strings.TrimSpace(req.ref) == "" {
		return req, errors.New("container: empty ID or name")
	}
	if v := q.Get("tail"); v != "" {
		if v == "all" {
			req.tail = -1
		} else {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return req, fmt.Errorf("tail: %q is neither a non-negative integer nor \"all\"", v)
			}
			req.tail = min(n, maxContainerTail)
		}
	}
	if v := q.Get("since"); v != "" {
		t, err := parseTime(v, now)
		if err != nil {
			return req, fmt.Errorf("since: %w", err)
		}
		req.since = t
	}
	if v := q.Get("timestamps"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return req, fmt.Errorf("timestamps: %q is not a boolean", v)
		}
		req.timestamps = b
	}
	return req, nil
}

// containerLogMetrics exposes how many engine log requests were made, by
// kind: with one shared follow per container, "follow" grows with
// containers watched, not with viewers.
func (s *Server) containerLogMetrics() prometheus.Collector {
	return containerLogCollector{s}
}

// containerLogCollector reads the counters of the server's logs.Streams at
// scrape time.
type containerLogCollector struct{ s *Server }

var containerLogRequestsDesc = prometheus.NewDesc("crowsnest_container_log_requests_total",
	"Engine container log requests, by kind (history, follow, backlog).", []string{"kind"}, nil)

var containerLogFollowsDesc = prometheus.NewDesc("crowsnest_container_log_follows",
	"Containers whose logs are followed now.", nil, nil)

func (c containerLogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- containerLogRequestsDesc
	ch <- containerLogFollowsDesc
}

func (c containerLogCollector) Collect(ch chan<- prometheus.Metric) {
	for _, kind := range []string{logs.RequestHistory, logs.RequestFollow, logs.RequestBacklog} {
		ch <- prometheus.MustNewConstMetric(containerLogRequestsDesc, prometheus.CounterValue, float64(c.s.containerLogs.Requests(kind)), kind)
	}
	ch <- prometheus.MustNewConstMetric(containerLogFollowsDesc, prometheus.GaugeValue, float64(c.s.containerLogs.Followers()))
}
