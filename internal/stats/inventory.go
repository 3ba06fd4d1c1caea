package stats

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/backoff"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// containerInfo is what the inventory knows of one container: the engine's
// listing, corrected by events between listings.
type containerInfo struct {
	ID, Name, Image string
	State, Status   string // Status is the listing's text, used when no times are known
	Created         time.Time
	StartedAt       time.Time
	FinishedAt      time.Time
	ExitCode        int
	Labels          map[string]string
	NetworkMode     string
	Health          string // healthy, unhealthy or starting; "" without a healthcheck
}

// hostInventory is one engine's containers. err is why the last listing
// failed (nil once one succeeds): the engine shows as unreachable on the
// stats socket until then.
type hostInventory struct {
	name       string
	err        error
	listed     bool
	containers map[string]*containerInfo
	kick       chan struct{} // asks the host loop to list again now
}

// runInventory lists the engine's containers now, then about every Resync
// (and when kicked by an event the inventory cannot place, or by a gap in
// the feed): events keep the inventory true between listings, so the
// listing only corrects what was missed, and each wait is jittered so the
// engines connected together are not all listed at once. A failing engine
// is retried with backoff up to retryMax, so the inventory follows it
// within that once it answers again, however long Resync is.
func (c *Collector) runInventory(ctx context.Context, h *hostInventory) {
	b := backoff.Backoff{Min: time.Second, Max: min(retryMax, c.opts.Resync)}
	for {
		err := c.list(ctx, h)
		if ctx.Err() != nil {
			return
		}
		wait := jittered(c.opts.Resync)
		if err != nil {
			wait = b.Next()
		} else {
			b.Reset()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-h.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// retryMax is the longest wait before listing a failing engine again.
const retryMax = 30 * time.Second

// jittered is d give or take a fifth, drawn anew each time.
func jittered(d time.Duration) time.Duration {
	return d - d/5 + rand.N(2*d/5+1)
}

// list replaces the host's inventory by a fresh listing, keeping what the
// listing does not carry (start and finish times) for containers whose
// state did not change.
func (c *Collector) list(ctx context.Context, h *hostInventory) error {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	cli, err := c.eng.Client(h.name)
	var res client.ContainerListResult
	if err == nil {
		res, err = cli.ContainerList(lctx, client.ContainerListOptions{All: true})
	}
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down: not the engine's fault
		}
		err = fmt.Errorf("listing containers: %w", err)
		c.mu.Lock()
		if h.err == nil {
			c.log.Warn("stats: engine unreachable", "host", h.name, "err", err)
		}
		h.err = err
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.err != nil {
		c.log.Info("stats: engine reachable again", "host", h.name)
	}
	h.err, h.listed = nil, true
	fresh := make(map[string]*containerInfo, len(res.Items))
	for _, s := range res.Items {
		ct := &containerInfo{
			ID:          s.ID,
			Image:       s.Image,
			State:       string(s.State),
			Status:      s.Status,
			Created:     time.Unix(s.Created, 0).UTC(),
			Labels:      s.Labels,
			NetworkMode: s.HostConfig.NetworkMode,
			Health:      healthOf(s.Status),
		}
		if len(s.Names) > 0 {
			ct.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		if old, ok := h.containers[s.ID]; ok && old.State == ct.State {
			ct.StartedAt, ct.FinishedAt, ct.ExitCode = old.StartedAt, old.FinishedAt, old.ExitCode
			if ct.Health == "" && ct.State == "running" {
				// Podman's listing never shows health, only its events
				// do; Docker's always shows it for a running container
				// that has a health check.
				ct.Health = old.Health
			}
		}
		fresh[s.ID] = ct
	}
	for id := range h.containers {
		if ct, ok := fresh[id]; !ok || ct.State != "running" {
			c.stopSourceLocked(key{h.name, id}, !ok)
		}
	}
	h.containers = fresh
	return nil
}

// HandleEvent updates the inventory from a container event of any engine,
// so sources start and stop with their containers without waiting for the
// next listing. The server passes every container event it stores.
func (c *Collector) HandleEvent(ev wire.ContainerEvent) {
	if ev.Type != "" && ev.Type != "container" {
		return
	}
	id := ev.Actor.ID
	if id == "" {
		id = ev.ID
	}
	action, detail, _ := strings.Cut(ev.Action, ":")
	at := time.Unix(0, ev.TimeNano).UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.hosts[ev.Host]
	if !ok {
		return
	}
	ct, known := h.containers[id]
	if !known {
		if action == "destroy" {
			return
		}
		// Created or started while the listing was not looking: add it now
		// and let a listing fill what the event lacks.
		ct = &containerInfo{ID: id, Created: at}
		if h.containers == nil {
			h.containers = map[string]*containerInfo{}
		}
		h.containers[id] = ct
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
	if n := ev.Name(); n != "" {
		ct.Name = n
	}
	if img := ev.Image(); img != "" && ct.Image == "" {
		ct.Image = img
	}
	switch action {
	case "create":
		ct.State = "created"
	case "start", "restart":
		ct.State, ct.StartedAt = "running", at
	case "unpause":
		ct.State = "running"
	case "health_status":
		ct.Health = strings.TrimSpace(detail)
	case "pause":
		ct.State = "paused"
	case "die":
		ct.State, ct.FinishedAt = "exited", at
		ct.ExitCode, _ = strconv.Atoi(ev.Actor.Attributes["exitCode"])
		c.stopSourceLocked(key{h.name, id}, false)
	case "destroy":
		c.stopSourceLocked(key{h.name, id}, true)
		delete(h.containers, id)
	}
}

// listTimeout bounds one listing, so a hung engine counts as unreachable.
const listTimeout = 15 * time.Second

// Resync has every engine listed again now, for when events may have been
// missed.
func (c *Collector) Resync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.hosts {
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
}

// healthOf reads a container's health from the listing's status text
// ("Up 2 minutes (healthy)", "Up 3 seconds (health: starting)").
func healthOf(status string) string {
	switch {
	case strings.HasSuffix(status, "(healthy)"):
		return "healthy"
	case strings.HasSuffix(status, "(unhealthy)"):
		return "unhealthy"
	case strings.HasSuffix(status, "(health: starting)"):
		return "starting"
	}
	return ""
}
