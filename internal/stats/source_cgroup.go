package stats

import (
	"context"
	"runtime"
	"time"
)

// cgroupFirstGap is how soon after the first reading the second is taken,
// so a cold source has a CPU figure within a second instead of a whole
// interval.
const cgroupFirstGap = 500 * time.Millisecond

// cgroupTarget is what the cgroup sampler needs of a container.
type cgroupTarget struct {
	files   cgroupReader
	pid     int  // for the network counters of its namespace
	hostNet bool // the host's network: its counters are not the container's
}

// runCgroup reads the container's cgroup files every interval. It asks the
// engine nothing: that is the point of this source.
func (c *Collector) runCgroup(ctx context.Context, s *source, t cgroupTarget) {
	var fs fileSet
	defer fs.close()
	prev, err := c.readCgroup(&fs, t)
	if err != nil {
		c.log.Debug("reading cgroup", "host", s.key.host, "container", short(s.key.id), "err", err)
	}
	wait := cgroupFirstGap
	warned := false
	for {
		timer := time.NewTimer(wait)
		_, changed := s.interval(time.Now())
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-changed:
			// A finer interval was asked for: sample now and adopt it.
			timer.Stop()
		case <-timer.C:
		}
		cur, err := c.readCgroup(&fs, t)
		switch {
		case err != nil:
			// Usually the container just stopped and its die event is on
			// the way; log the first failure only.
			if !warned {
				c.log.Debug("reading cgroup", "host", s.key.host, "container", short(s.key.id), "dir", t.files.String(), "err", err)
				warned = true
			}
		case prev.System != 0:
			s.set(Compute(prev, cur))
			warned = false
		}
		if err == nil {
			prev = cur
		}
		wait, _ = s.interval(time.Now())
	}
}

// readCgroup takes one reading through the source's open files: the
// host's CPU time right before the container's, so both cover the same
// span.
func (c *Collector) readCgroup(fs *fileSet, t cgroupTarget) (Reading, error) {
	c.cgroupReads.Add(1)
	r := Reading{Time: time.Now()}
	var err error
	if r.System, r.OnlineCPUs, err = systemCPU(fs, c.opts.ProcRoot); err != nil {
		return r, err
	}
	if r.OnlineCPUs == 0 {
		r.OnlineCPUs = uint32(runtime.NumCPU()) // a proc without per-CPU lines
	}
	if err := t.files.read(fs, &r); err != nil {
		return r, err
	}
	if r.MemoryLimit == 0 || r.MemoryLimit > c.hostMem {
		r.MemoryLimit = c.hostMem // as the engine reports an unlimited container
	}
	if !t.hostNet && t.pid > 0 {
		// Best effort: without the host's /proc (crowsnest in a container
		// without --pid=host) the network figures stay zero.
		if rx, tx, err := netDev(fs, c.opts.ProcRoot, t.pid); err == nil {
			r.NetRx, r.NetTx = rx, tx
		}
	}
	return r, nil
}
