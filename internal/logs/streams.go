package logs

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

// Defaults of Options.
const (
	DefaultRecent      = 1000
	DefaultRecentBytes = 2 << 20
	DefaultGrace       = 5 * time.Second
)

// Kinds of engine log requests, as Requests counts them.
const (
	// RequestHistory is the tail a follow starts with, which fills the
	// memory new viewers take their backlog from.
	RequestHistory = "history"
	// RequestFollow is the one shared live stream of a container.
	RequestFollow = "follow"
	// RequestBacklog is a viewer's own request, made only when it asks for
	// more (or older) lines than the follow remembers.
	RequestBacklog = "backlog"
)

// ErrStopped ends a view whose container stopped: its output is complete.
var ErrStopped = errors.New("container stopped")

// ErrClosed is returned by Open once Streams is closed.
var ErrClosed = errors.New("log streams closed")

// Engine is what following a container's logs needs from an engine;
// *client.Client has it.
type Engine interface {
	ContainerLogs(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error)
}

// Container is the container a view is about, as resolved by inspecting it.
type Container struct {
	ID  string // the full ID, so an ID prefix and a name share one follow
	TTY bool   // the engine sends a TTY's output raw, not multiplexed
}

// Options configure Streams; zero values take the defaults.
type Options struct {
	// Recent and RecentBytes bound the lines each follow remembers for
	// the backlog of viewers that join later.
	Recent, RecentBytes int
	// MaxLine is the most bytes of a line per message (DefaultMaxLine).
	MaxLine int
	// Grace is how long a follow outlives its last viewer, so a page reload
	// does not restart it.
	Grace time.Duration
	// Logger receives follows starting and ending; nil means slog.Default.
	Logger *slog.Logger
}

// Streams keeps one engine follow per container, shared by all its viewers.
type Streams struct {
	opts   Options
	ctx    context.Context // parent of every follow: Close cancels it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	followers map[string]*follower // by host and container ID
	closed    bool

	history, follow, backlog atomic.Uint64
}

// NewStreams returns an empty set of follows.
func NewStreams(opts Options) *Streams {
	if opts.Recent < 1 {
		opts.Recent = DefaultRecent
	}
	if opts.RecentBytes < 1 {
		opts.RecentBytes = DefaultRecentBytes
	}
	if opts.MaxLine < 1 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Streams{opts: opts, ctx: ctx, cancel: cancel, followers: make(map[string]*follower)}
}

// Requests counts the engine log requests made so far of one kind
// (RequestHistory, RequestFollow or RequestBacklog).
func (s *Streams) Requests(kind string) uint64 {
	switch kind {
	case RequestHistory:
		return s.history.Load()
	case RequestFollow:
		return s.follow.Load()
	case RequestBacklog:
		return s.backlog.Load()
	}
	return 0
}

func (s *Streams) count(kind string) {
	switch kind {
	case RequestHistory:
		s.history.Add(1)
	case RequestFollow:
		s.follow.Add(1)
	case RequestBacklog:
		s.backlog.Add(1)
	}
}

// Followers is the number of containers followed now.
func (s *Streams) Followers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.followers)
}

// Close stops every follow, ending their views, and waits for them.
func (s *Streams) Close() {
	s.mu.Lock()
	s.closed = true
	for _, f := range s.followers {
		if f.grace != nil {
			f.grace.Stop()
		}
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// ViewOptions are one viewer's wishes.
type ViewOptions struct {
	// Tail is how many of the latest lines to send first; negative means
	// all the engine has.
	Tail int
	// Since drops lines stamped before it; zero keeps all.
	Since time.Time
	// Queue is how many live lines may wait for this viewer before it is
	// dropped as too slow.
	Queue int
}

// Open joins the follow of container c on host, starting it when nobody
// follows c yet, and returns the viewer's stream: its Backlog, then its live lines (C,
// Done, Err); then Close it.
func (s *Streams) Open(ctx context.Context, host string, eng Engine, c Container, o ViewOptions) (*View, error) {
	f, err := s.join(ctx, host, eng, c)
	if err != nil {
		return nil, err
	}
	v := &View{s: s, f: f, opts: o}
	v.plan()
	return v, nil
}

// Tap joins the follow of container c on host like Open and calls fn with
// every line the follow reads from now on, until ctx ends or the follow
// does; it returns why (ErrStopped once the container stopped). fn runs on
// the follow's own goroutine, in order, and never after Tap has returned:
// no queue and no handoff per line, which is what a consumer that only
// looks at each line (an alert rule) needs. fn must be quick and must not
// block, as it holds up the container's stream while it runs.
func (s *Streams) Tap(ctx context.Context, host string, eng Engine, c Container, fn func(wire.LogLine)) error {
	f, err := s.join(ctx, host, eng, c)
	if err != nil {
		return err
	}
	defer s.release(f)
	t := &fn
	f.mu.Lock()
	f.taps = append(f.taps, t)
	f.mu.Unlock()
	defer f.untap(t)
	select {
	case <-f.over:
		return f.endError()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// join counts one more viewer of container c's follow, starting the
// follow when nobody follows c yet, and waits until its history is read.
func (s *Streams) join(ctx context.Context, host string, eng Engine, c Container) (*follower, error) {
	key := host + "\x00" + c.ID
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	f := s.followers[key]
	if f == nil {
		f = newFollower(s, key, host, eng, c)
		s.followers[key] = f
		s.wg.Go(f.run)
	}
	f.viewers++
	if f.grace != nil {
		f.grace.Stop()
		f.grace = nil
	}
	s.mu.Unlock()

	select {
	case <-f.ready:
		return f, nil
	case <-ctx.Done():
		s.release(f)
		return nil, fmt.Errorf("waiting for the logs of %.12s: %w", c.ID, ctx.Err())
	}
}

// release drops one viewer of f; the last one leaving starts the grace
// period after which the follow stops.
func (s *Streams) release(f *follower) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.viewers--
	if f.viewers > 0 || s.followers[f.key] != f {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(s.opts.Grace, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		// A viewer that came and went meanwhile set another timer.
		if f.grace != t || f.viewers > 0 {
			return
		}
		f.grace = nil
		if s.followers[f.key] == f {
			delete(s.followers, f.key)
		}
		f.cancel()
	})
	f.grace = t
}

// remove forgets f once its follow has ended.
func (s *Streams) remove(f *follower) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.followers[f.key] == f {
		delete(s.followers, f.key)
	}
	if f.grace != nil {
		f.grace.Stop()
		f.grace = nil
	}
}
