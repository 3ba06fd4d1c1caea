// Package stacks deploys and manages compose stacks through the compose
// library (the code `docker compose` runs), keeps their records, reports
// their progress as the DockStat /stacks socket's messages and keeps their
// status true to what the engines show.
package stacks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/lease"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Engines is what the manager needs of the engine connections: a client per
// configured host, and one as Docker's API behaves for the compose library
// (internal/docker's Engines provides them).
type Engines interface {
	Client(name string) (*client.Client, error)
	DockerAPI(name string) (client.APIClient, error)
	Hosts() []wire.Host
}

// Appender stores events durably (the event store's Append).
type Appender interface {
	Append(ctx context.Context, events ...wire.Event) ([]wire.Event, error)
}

// Options configure a Manager.
type Options struct {
	Records store.Stacks // stack records; required
	Events  Appender     // where socket messages are kept; required
	Engines Engines      // required
	// DataDir holds the stacks' working directories (DataDir/stacks/…).
	DataDir string
	// DefaultHost is the host of a stack created without one.
	DefaultHost string
	// AllowHostPaths lets compose files name files outside their stack's
	// directory for the loader to read (include, extends, env_file,
	// label_file): --stacks-allow-host-paths.
	AllowHostPaths bool
	// Leases keep replicas sharing one store from acting on the same
	// stack at once; nil for a single crowsnest.
	Leases *lease.Leases
	// ActionTimeout bounds one action; zero means DefaultActionTimeout.
	ActionTimeout time.Duration
	// RefreshEvery is how often every stack's status is read again from
	// its engine, in case a container event was missed; zero means
	// DefaultRefreshEvery.
	RefreshEvery time.Duration
	Logger       *slog.Logger
}

// Defaults of Options.
const (
	DefaultActionTimeout = 15 * time.Minute
	DefaultRefreshEvery  = 30 * time.Second
)

// Errors a caller maps to HTTP statuses; ErrInvalid and ErrTooLarge are in
// project.go.
var (
	ErrNotFound    = errors.New("stack not found")
	ErrExists      = errors.New("a stack of that name already exists on that host")
	ErrBusy        = errors.New("another action is running on this stack")
	ErrUnknownHost = errors.New("unknown host")
	ErrClosed      = errors.New("stacks: manager closed")
)

// Manager runs stack actions, one worker goroutine per stack, and keeps the
// records' status in line with the engines.
type Manager struct {
	opts Options
	log  *slog.Logger
	hub  *hub.Hub[Message]

	ctx    context.Context // ends when Close is called: cancels running actions
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	workers  map[int64]*worker
	clis     map[string]*command.DockerCli // per host, built on first use
	declared map[int64]declaredSet         // services each stack's file declares
	wg       sync.WaitGroup                // workers and loops

	emitMu  sync.Mutex
	stored  chan wire.Event // to storeLoop; nil once closed
	storeWG sync.WaitGroup

	dirty chan projectKey // projects a container event touched
}

// projectKey names a compose project on one engine.
type projectKey struct{ host, name string }

// New checks opts and starts the manager's store writer. Call Run to
// reconcile and follow the engines, and Close to stop.
func New(opts Options) (*Manager, error) {
	if opts.Records == nil || opts.Events == nil || opts.Engines == nil {
		return nil, errors.New("stacks: Records, Events and Engines are required")
	}
	if opts.DataDir == "" {
		return nil, errors.New("stacks: DataDir is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = DefaultActionTimeout
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = DefaultRefreshEvery
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		opts:     opts,
		log:      opts.Logger.With("component", "stacks"),
		hub:      hub.New[Message](),
		ctx:      ctx,
		cancel:   cancel,
		workers:  make(map[int64]*worker),
		clis:     make(map[string]*command.DockerCli),
		declared: make(map[int64]declaredSet),
		stored:   make(chan wire.Event, 4096),
		dirty:    make(chan projectKey, 1024),
	}
	m.storeWG.Add(1)
	go m.storeLoop(m.stored)
	return m, nil
}

// Subscribe returns a subscription to the /stacks messages sent from now
// on, with a queue of size messages.
func (m *Manager) Subscribe(size int) *hub.Subscription[Message] {
	return m.hub.Subscribe(size)
}

// Clients is the number of current subscribers.
func (m *Manager) Clients() int { return m.hub.Len() }

// Dropped is the number of subscribers cut off as too slow.
func (m *Manager) Dropped() uint64 { return m.hub.Dropped() }

// Close cancels running actions, waits for the workers and loops, stores
// the messages still queued and ends every subscription. Records of stacks
// whose action was cut short keep that action, so the next start resolves
// them (see Run).
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, w := range m.workers {
		close(w.jobs)
	}
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.emitMu.Lock()
	close(m.stored)
	m.stored = nil
	m.emitMu.Unlock()
	m.storeWG.Wait()
	m.hub.Close()
	return nil
}

// dir is the working directory of a stack: DataDir/stacks/<name> on the
// default host, DataDir/stacks/@<host>/<name> on others ('@' cannot start a
// stack name, so the two never clash).
func (m *Manager) dir(host, name string) string {
	if host == m.opts.DefaultHost {
		return filepath.Join(m.root(), name)
	}
	return filepath.Join(m.root(), "@"+host, name)
}

func (m *Manager) root() string { return filepath.Join(m.opts.DataDir, "stacks") }

// client returns the engine client of host.
func (m *Manager) client(host string) (*client.Client, error) {
	c, err := m.opts.Engines.Client(host)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrUnknownHost, host, err)
	}
	return c, nil
}

// dockerCli returns the docker CLI object wrapping host's client, built
// once per host: initialising one reads the CLI config and touches
// process-wide settings, which is not safe to do concurrently.
func (m *Manager) dockerCli(host string) (*command.DockerCli, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if dc, ok := m.clis[host]; ok {
		return dc, nil
	}
	c, err := m.opts.Engines.DockerAPI(host)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrUnknownHost, host, err)
	}
	dc, err := newDockerCli(c)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", host, err)
	}
	m.clis[host] = dc
	return dc, nil
}

// removeDir deletes a stack's working directory.
func (m *Manager) removeDir(host, name string) error {
	if err := os.RemoveAll(m.dir(host, name)); err != nil {
		return fmt.Errorf("removing the stack directory: %w", err)
	}
	return nil
}
