package docker

import (
	"log/slog"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// engine is one configured Docker engine: its client, its options and the
// state Hosts reports.
type engine struct {
	name string
	url  string
	cli  *client.Client
	log  *slog.Logger
	minB time.Duration
	maxB time.Duration

	// Ingest: only the engine's run goroutine and the writer it waits for
	// touch these, never at once.
	journal   Journal
	queueSize int
	window    time.Duration
	seen      *seenSet
	mark      int64  // engine time the first subscription started from; 0: none yet
	kind      string // wire.EngineDocker or wire.EnginePodman, from the last handshake

	mu    sync.Mutex
	state wire.Host
}

func newEngine(h HostConfig, cli *client.Client, opts Options) *engine {
	url := h.URL
	if url == "" {
		// Show where the environment actually points.
		url = cli.DaemonHost()
	}
	e := &engine{
		name: h.Name,
		url:  url,
		cli:  cli,
		log:  opts.Logger.With("host", h.Name),
		minB: opts.MinBackoff,
		maxB: opts.MaxBackoff,

		journal:   opts.Journal,
		queueSize: opts.QueueSize,
		window:    opts.DedupeWindow,
		seen:      newSeenSet(opts.DedupeWindow),
	}
	e.state = wire.Host{Name: h.Name, URL: url, State: wire.HostConnecting, Since: time.Now().UTC()}
	return e
}

// host returns a copy of the current state.
func (e *engine) host() wire.Host {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

// connected records a working connection and what the handshake learnt.
func (e *engine) connected(hs handshake) {
	e.mu.Lock()
	changed := e.state.State != wire.HostConnected
	if changed {
		e.state.Since = time.Now().UTC()
	}
	e.state.State, e.state.Error = wire.HostConnected, ""
	e.state.Engine, e.state.Version, e.state.APIVersion = hs.kind, hs.version, hs.apiVersion
	e.state.Unavailable, e.state.Differences = hs.unavailable, hs.differences
	e.mu.Unlock()
	if changed {
		e.log.Info("engine connected", "url", e.url, "engine", hs.kind, "version", hs.version, "apiVersion", hs.apiVersion)
	}
}

// unreachable records a failure. Since marks when the engine became
// unreachable, not the latest failed attempt; only a new kind of failure
// is logged at warning level, so a long outage does not flood the log.
func (e *engine) unreachable(err error) {
	msg := err.Error()
	e.mu.Lock()
	if e.state.State != wire.HostUnreachable {
		e.state.Since = time.Now().UTC()
	}
	e.state.State = wire.HostUnreachable
	repeated := e.state.Error == msg
	e.state.Error = msg
	e.mu.Unlock()
	if repeated {
		e.log.Debug("engine still unreachable", "err", msg)
		return
	}
	e.log.Warn("engine unreachable", "url", e.url, "err", msg)
}
