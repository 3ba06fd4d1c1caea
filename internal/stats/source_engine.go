package stats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// minEngineSpan is the shortest span between two engine readings that
// makes a sample: Podman's first frame compares with a reading taken a few
// milliseconds before it, a CPU figure that is mostly noise, and its next
// frame comes 5 s later.
const minEngineSpan = 100 * time.Millisecond

// runEngine keeps one streaming stats request open for the container and
// turns each frame the engine sends (one a second, the engine's own pace)
// into a sample. A failed or ended stream is reopened with backoff while
// the source lives.
func (c *Collector) runEngine(ctx context.Context, s *source, cli *client.Client) {
	b := backoff.Backoff{Min: time.Second, Max: 30 * time.Second}
	for {
		err := c.streamEngine(ctx, s, cli, &b)
		if ctx.Err() != nil {
			return
		}
		c.log.Debug("engine stats stream ended; reopening", "host", s.key.host, "container", short(s.key.id), "err", err)
		if !b.Wait(ctx) {
			return
		}
	}
}

// frameSlack is how much sooner than the interval a frame may arrive and
// still be decoded: the engine's one-second pace wanders a little.
const frameSlack = 500 * time.Millisecond

// streamEngine reads one stats stream until it fails. The engine sends a
// frame a second whatever the interval; only the frames a sample needs are
// decoded (every one at 1 s, one in two at the UI's 2 s), the others are
// skipped unread.
func (c *Collector) streamEngine(ctx context.Context, s *source, cli *client.Client, b *backoff.Backoff) error {
	c.streamsOpened.Add(1)
	res, err := cli.ContainerStats(ctx, s.key.id, client.ContainerStatsOptions{Stream: true})
	if err != nil {
		return fmt.Errorf("opening the stats stream of %.12s: %w", s.key.id, err)
	}
	c.streamsOpen.Add(1)
	defer c.streamsOpen.Add(-1)
	defer func() { _ = res.Body.Close() }() // ends the request; nothing to report
	frames := newFrameReader(res.Body)
	var prev Reading
	var decodedAt time.Time
	// Which engine this is may be learnt only after the stream opened (the
	// inventory can list a host before its event stream's handshake ends):
	// asked on each frame until it is known, then never again.
	var wall, kindKnown bool
	for {
		data, err := frames.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the engine closed the stats stream")
			}
			return fmt.Errorf("reading the stats stream of %.12s: %w", s.key.id, err)
		}
		now := time.Now()
		if d, _ := s.interval(now); prev.System != 0 && now.Sub(decodedAt) < d-frameSlack {
			continue // no sample is due yet: the next frame serves
		}
		var f engineFrame
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("reading the stats stream of %.12s: %w", s.key.id, err)
		}
		decodedAt = now
		b.Reset()
		if !kindKnown {
			wall, kindKnown = c.busyTimeOnly(s.key.host)
		}
		cur := engineReading(f.CPUStats, &f, wall)
		// Our own previous reading spans the whole interval. Before there
		// is one, the engine's previous frame's CPU figures (precpu_stats)
		// stand in; the first frame has none.
		if prev.System == 0 && f.PreCPUStats.SystemUsage != 0 {
			prev = engineReading(f.PreCPUStats, &f, wall)
			prev.Time = f.PreRead
			if wall {
				prev.System = wallSystem(f.PreRead, prev.OnlineCPUs)
			}
		}
		s.observe(cur)
		if prev.System != 0 && cur.Time.Sub(prev.Time) >= minEngineSpan {
			s.set(Compute(prev, cur))
		}
		prev = cur
	}
}

// liveReading is the latest reading of the container's engine stream, if
// one is open and read after since: what the sampler takes instead of a
// request of its own, so a watched container costs the engine one stream
// whoever reads it.
func (c *Collector) liveReading(k key, since time.Time) (Reading, bool) {
	c.mu.Lock()
	s := c.sources[k]
	c.mu.Unlock()
	if s == nil {
		return Reading{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reading, s.reading.Time.After(since)
}

// busyTimeOnly reports whether the host's engine is Podman, whose
// system_cpu_usage (on cgroup v2) sums the CPU time the host's top-level
// cgroups used instead of all CPU time, busy and idle: Docker's formula
// over it gives a container's share of the busy time, 196 % for one capped
// at half a core on a quiet two-core host. Its readings are timed by the
// wall clock instead (see wallSystem). known is false while the host's
// engine is not known yet (no handshake so far).
func (c *Collector) busyTimeOnly(host string) (podman, known bool) {
	for _, h := range c.eng.Hosts() {
		if h.Name == host {
			return h.Engine == wire.EnginePodman, h.Engine != ""
		}
	}
	return false, false
}

// wallSystem stands for the host's CPU time at t when the engine's own
// figure cannot serve: the wall clock times the CPUs, what Docker's
// system_cpu_usage grows by, so CPUPercent stays CPU time over wall time.
func wallSystem(t time.Time, cpus uint32) uint64 {
	return uint64(t.UnixNano()) * uint64(max(cpus, 1))
}
