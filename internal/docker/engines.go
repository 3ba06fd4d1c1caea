package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Default retry bounds: quick enough to notice a restarted engine within
// seconds, slow enough not to hammer one that is down for long.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// ErrUnknownHost is returned by Client for a name that is not configured.
var ErrUnknownHost = errors.New("unknown host")

// Options configure Engines.
type Options struct {
	// Hosts are the engines to watch, in the order Hosts reports them;
	// empty means DefaultHost.
	Hosts []HostConfig
	// Journal stores every container event of every engine, exactly once
	// whatever the engine's timestamp order, and the gaps where the record
	// cannot be proven complete; it also tells where a fresh start resumes.
	// Required.
	Journal Journal
	// QueueSize bounds the events read from an engine and not stored yet;
	// when it fills, the engine's stream is resubscribed from the last
	// stored event. Zero means DefaultIngestQueue.
	QueueSize int
	// DedupeWindow is how far out of timestamp order an engine's events may
	// arrive and still be stored once; zero means DefaultDedupeWindow.
	DedupeWindow time.Duration
	// Logger receives connection changes and failures; nil means
	// slog.Default.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnection (and
	// store) attempts; zero means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
}

// Engines keeps one client and one event subscription per configured
// engine. Each engine runs on its own, so one that fails never disturbs the
// others.
type Engines struct {
	list    []*engine
	byName  map[string]*engine
	running atomic.Bool
}

// New checks opts and builds a client per host; it does not connect yet
// (Run does), so crowsnest starts even when no engine is reachable.
func New(opts Options) (*Engines, error) {
	if opts.Journal == nil {
		return nil, errors.New("docker: Options.Journal is required")
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultIngestQueue
	}
	if opts.DedupeWindow <= 0 {
		opts.DedupeWindow = DefaultDedupeWindow
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		return nil, fmt.Errorf("docker: MaxBackoff %v is below MinBackoff %v", opts.MaxBackoff, opts.MinBackoff)
	}
	hosts := opts.Hosts
	if len(hosts) == 0 {
		hosts = []HostConfig{DefaultHost()}
	}
	e := &Engines{byName: make(map[string]*engine, len(hosts))}
	for _, h := range hosts {
		if err := h.validate(); err != nil {
			return nil, errors.Join(fmt.Errorf("docker: %w", err), e.Close())
		}
		if _, dup := e.byName[h.Name]; dup {
			return nil, errors.Join(fmt.Errorf("docker: host %q configured twice", h.Name), e.Close())
		}
		cli, err := newClient(h)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("docker: %w", err), e.Close())
		}
		eng := newEngine(h, cli, opts)
		e.list = append(e.list, eng)
		e.byName[h.Name] = eng
	}
	return e, nil
}

// Run connects every engine and stores its events in the Journal, reconnecting
// as needed, until ctx ends; it then returns nil once every engine has
// stopped. Calling Run while it runs is an error.
func (e *Engines) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("docker: Engines.Run is already running")
	}
	defer e.running.Store(false)
	var wg sync.WaitGroup
	for _, eng := range e.list {
		wg.Go(func() { eng.run(ctx) })
	}
	wg.Wait()
	return nil
}

// Hosts reports every engine's state in configured order.
func (e *Engines) Hosts() []wire.Host {
	out := make([]wire.Host, len(e.list))
	for i, eng := range e.list {
		out[i] = eng.host()
	}
	return out
}

// Client returns the API client of the named engine, whatever its state,
// for features that talk to engines directly (stats, logs, stacks).
func (e *Engines) Client(name string) (*client.Client, error) {
	eng, ok := e.byName[name]
	if !ok {
		return nil, fmt.Errorf("docker: %w %q", ErrUnknownHost, name)
	}
	return eng.cli, nil
}

// Up counts the engines currently connected.
func (e *Engines) Up() int {
	n := 0
	for _, eng := range e.list {
		if eng.host().State == wire.HostConnected {
			n++
		}
	}
	return n
}

// Close releases every client's idle connections. Call it after Run has
// returned.
func (e *Engines) Close() error {
	var errs []error
	for _, eng := range e.list {
		if err := eng.cli.Close(); err != nil {
			errs = append(errs, fmt.Errorf("docker: closing host %s: %w", eng.name, err))
		}
	}
	return errors.Join(errs...)
}
