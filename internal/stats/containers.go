package stats

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Containers lists the containers of every engine (running ones only
// unless all), each with its latest stats sample. Running containers
// without one get their source started (kept for the grace period, so a
// UI polling the list keeps them warm) and the call waits up to wait for
// their first samples.
func (c *Collector) Containers(ctx context.Context, all bool, wait time.Duration) []wire.ContainerSummary {
	deadline := time.Now().Add(wait)
	for {
		list, missing := c.containers(all)
		if missing == 0 || !time.Now().Before(deadline) {
			return list
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return list
		case <-t.C:
		}
	}
}

// containers builds the list once and counts the running containers
// still without a sample.
func (c *Collector) containers(all bool) ([]wire.ContainerSummary, int) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wire.ContainerSummary
	missing := 0
	for _, host := range c.order {
		h := c.hosts[host]
		for _, ct := range h.containers {
			running := ct.State == "running"
			if !running && !all {
				continue
			}
			cs := summary(host, ct, now)
			k := key{host, ct.ID}
			var u Usage
			has := false
			if running {
				if s := c.ensureSourceLocked(k, DefaultInterval, now); s != nil {
					u, has = s.latest()
				}
				if !has {
					missing++
				}
			} else {
				u, has = c.last[k]
			}
			if has {
				f := frame(host, ct, now)
				u.fill(&f)
				if !running {
					f.CPUUsage, f.MemoryUsage, f.MemoryBytes, f.PIDs = 0, 0, 0, 0
				}
				cs.Stats = &f
			}
			out = append(out, cs)
		}
	}
	slices.SortFunc(out, func(a, b wire.ContainerSummary) int {
		if a.Host != b.Host {
			return slices.Index(c.order, a.Host) - slices.Index(c.order, b.Host)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, missing
}

func summary(host string, ct *containerInfo, now time.Time) wire.ContainerSummary {
	return wire.ContainerSummary{
		ID:      ct.ID,
		Host:    host,
		Name:    ct.Name,
		Image:   ct.Image,
		State:   ct.State,
		Status:  statusText(ct, now),
		Created: ct.Created,
		Labels:  maps.Clone(ct.Labels),
	}
}

// Inspect returns the inspect summary of a container, named by ID, ID
// prefix or name, on host (or, with host empty, on the first engine that
// knows it), with its latest stats sample. ErrNotFound when none does.
func (c *Collector) Inspect(ctx context.Context, host, ref string) (wire.ContainerDetail, error) {
	hosts := c.order
	if host != "" {
		if _, ok := c.hosts[host]; !ok {
			return wire.ContainerDetail{}, fmt.Errorf("stats: unknown host %q", host)
		}
		hosts = []string{host}
	} else if h := c.hostOf(ref); h != "" {
		hosts = []string{h}
	}
	var errs []error
	for _, h := range hosts {
		cli, err := c.eng.Client(h)
		if err != nil {
			return wire.ContainerDetail{}, fmt.Errorf("stats: %w", err)
		}
		ictx, cancel := context.WithTimeout(ctx, listTimeout)
		res, err := cli.ContainerInspect(ictx, ref, client.ContainerInspectOptions{})
		cancel()
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h, err))
			continue
		}
		return c.detail(h, res), nil
	}
	if len(errs) > 0 {
		return wire.ContainerDetail{}, fmt.Errorf("inspecting %q: %w", ref, errs[0])
	}
	return wire.ContainerDetail{}, fmt.Errorf("container %q: %w", ref, ErrNotFound)
}

// hostOf finds the engine whose inventory holds ref (ID prefix or exact
// name), so inspecting asks one engine only.
func (c *Collector) hostOf(ref string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, host := range c.order {
		for _, ct := range c.hosts[host].containers {
			if strings.HasPrefix(ct.ID, ref) || ct.Name == strings.TrimPrefix(ref, "/") {
				return host
			}
		}
	}
	return ""
}

// detail converts an inspect answer.
func (c *Collector) detail(host string, res client.ContainerInspectResult) wire.ContainerDetail {
	in := res.Container
	now := time.Now()
	ct := &containerInfo{ID: in.ID, Name: strings.TrimPrefix(in.Name, "/"), Created: parseTime(in.Created)}
	d := wire.ContainerDetail{}
	if in.Config != nil {
		ct.Image, ct.Labels = in.Config.Image, in.Config.Labels
		d.Command = append(slices.Clone(in.Config.Entrypoint), in.Config.Cmd...)
		d.TTY = in.Config.Tty
	}
	if in.State != nil {
		ct.State = string(in.State.Status)
		ct.StartedAt, ct.FinishedAt = parseTime(in.State.StartedAt), parseTime(in.State.FinishedAt)
		ct.ExitCode = in.State.ExitCode
		d.ExitCode, d.Pid = in.State.ExitCode, in.State.Pid
		d.StartedAt, d.FinishedAt = ct.StartedAt, ct.FinishedAt
		if in.State.Health != nil {
			d.Health = string(in.State.Health.Status)
		}
	}
	ct.Status = ct.State
	d.ContainerSummary = summary(host, ct, now)
	d.RestartCount = in.RestartCount
	if in.HostConfig != nil {
		d.MemoryLimit, d.NanoCPUs = in.HostConfig.Memory, in.HostConfig.NanoCPUs
		d.NetworkMode = string(in.HostConfig.NetworkMode)
	}
	if in.NetworkSettings != nil && len(in.NetworkSettings.Networks) > 0 {
		d.Networks = map[string]string{}
		for name, ep := range in.NetworkSettings.Networks {
			ip := ""
			if ep != nil && ep.IPAddress.IsValid() {
				ip = ep.IPAddress.String()
			}
			d.Networks[name] = ip
		}
	}
	for _, m := range in.Mounts {
		d.Mounts = append(d.Mounts, wire.Mount{Type: string(m.Type), Source: m.Source, Destination: m.Destination, ReadOnly: !m.RW})
	}
	c.mu.Lock()
	k := key{host, in.ID}
	var u Usage
	has := false
	if s, ok := c.sources[k]; ok {
		u, has = s.latest()
	} else {
		u, has = c.last[k]
	}
	c.mu.Unlock()
	if has {
		f := frame(host, ct, now)
		u.fill(&f)
		d.Stats = &f
	}
	return d
}
