package natsstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"github.com/crowsnest-hq/crowsnest/internal/hub"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Store is store.Store on a JetStream stream with a local view.
type Store struct {
	opts    Options
	log     *slog.Logger
	view    *store.View
	applied *progress
	inbox   chan jetstream.Msg // from the consumer to the applier

	mu      sync.Mutex
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	cc      jetstream.ConsumeContext
	kvs     map[string]jetstream.KeyValue
	health  error
	started bool          // the stream is set up and consumed
	ready   chan struct{} // closed when started becomes true

	quit      chan struct{}
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// The store's compile-time promises.
var (
	_ store.Store          = (*Store)(nil)
	_ store.KeyedAppender  = (*Store)(nil)
	_ store.Syncer         = (*Store)(nil)
	_ store.HealthReporter = (*Store)(nil)
	_ store.ViewHolder     = (*Store)(nil)
)

// Open opens the local view and starts reaching NATS in the background: it
// does not wait for a server. Until one answers, reads are served from the
// view and writes fail with store.ErrUnavailable.
func Open(opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if len(opts.URLs) == 0 {
		return nil, errors.New("natsstore: no NATS server URL")
	}
	view, err := store.OpenView(opts.ViewPath, store.Options{
		Retention: opts.Retention, MaxEvents: opts.MaxEvents, Logger: opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("natsstore: %w", err)
	}
	s := &Store{
		opts:    opts,
		log:     opts.Logger.With("component", "natsstore"),
		view:    view,
		applied: newProgress(),
		inbox:   make(chan jetstream.Msg, inboxSize),
		kvs:     map[string]jetstream.KeyValue{},
		health:  fmt.Errorf("%w: connecting to %v", store.ErrUnavailable, opts.URLs),
		ready:   make(chan struct{}),
		quit:    make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() { s.apply(ctx) })
	s.wg.Go(func() { s.run(ctx) })
	return s, nil
}

// run sets up the connection, the stream and the consumer, retrying with
// backoff until it works or the store closes. From then on the client
// reconnects by itself and the ordered consumer resumes where it stopped.
func (s *Store) run(ctx context.Context) {
	b := backoff.Backoff{Min: s.opts.MinBackoff, Max: s.opts.MaxBackoff}
	for {
		err := s.start(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		s.setHealth(fmt.Errorf("%w: %w", store.ErrUnavailable, err))
		s.log.Warn("NATS store unavailable; retrying", "err", err)
		if !b.Wait(ctx) {
			return
		}
	}
}

// start connects (once: a connection that works is kept across retries),
// sets up the stream and starts applying it to the view.
func (s *Store) start(ctx context.Context) error {
	nc, err := s.connect()
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	stream, err := js.CreateOrUpdateStream(sctx, streamConfig(s.opts))
	if err != nil {
		return fmt.Errorf("setting up stream %s: %w", StreamName, err)
	}
	if err := s.checkView(stream.CachedInfo()); err != nil {
		return err
	}
	cons, err := js.OrderedConsumer(sctx, StreamName, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   s.view.LastID() + 1,
	})
	if err != nil {
		return fmt.Errorf("consuming stream %s: %w", StreamName, err)
	}
	cc, err := cons.Consume(s.receive, jetstream.PullHeartbeat(consumerHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.log.Debug("stream consumer", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("consuming stream %s: %w", StreamName, err)
	}
	s.mu.Lock()
	s.js, s.stream, s.cc = js, stream, cc
	s.started = true
	close(s.ready)
	if nc.IsConnected() {
		s.health = nil
	}
	s.mu.Unlock()
	s.log.Info("NATS store ready", "servers", nc.Servers(), "stream", StreamName, "replicas", s.opts.Replicas, "from", s.view.LastID()+1)
	return nil
}

// connect returns the connection, dialling it if there is none yet.
func (s *Store) connect() (*nats.Conn, error) {
	s.mu.Lock()
	nc := s.nc
	s.mu.Unlock()
	if nc != nil {
		return nc, nil
	}
	nc, err := nats.Connect(strings.Join(s.opts.URLs, ","), s.opts.natsOptions(s.down, s.up)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %v: %w", s.opts.URLs, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.quit: // closed meanwhile: nobody else will close it
		nc.Close()
		return nil, store.ErrClosed
	default:
	}
	s.nc = nc
	return nc, nil
}

// down and up follow the connection once it exists.
func (s *Store) down(err error) {
	if err == nil {
		err = errors.New("disconnected")
	}
	s.setHealth(fmt.Errorf("%w: connection to NATS lost (%v); reconnecting", store.ErrUnavailable, err))
}

func (s *Store) up() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		s.health = nil
	}
}

func (s *Store) setHealth(err error) {
	s.mu.Lock()
	s.health = err
	s.mu.Unlock()
}

// Health is nil while the store takes writes, else why it does not.
func (s *Store) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health
}

// conn returns the JetStream context while the store is available.
func (s *Store) conn() (jetstream.JetStream, *nats.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.quit:
		return nil, nil, store.ErrClosed
	default:
	}
	if s.health != nil {
		return nil, nil, s.health
	}
	return s.js, s.nc, nil
}

// waitReady waits until the stream is set up (once), or ctx ends.
func (s *Store) waitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for NATS: %w (%v)", ctx.Err(), s.Health())
	case <-s.quit:
		return store.ErrClosed
	}
}

// Sync waits until the view holds every event the stream held when Sync
// was called: what another replica stored before is readable here after.
// Until NATS first answers it waits for that.
func (s *Store) Sync(ctx context.Context) error {
	if err := s.waitReady(ctx); err != nil {
		return fmt.Errorf("natsstore: sync: %w", err)
	}
	s.mu.Lock()
	stream := s.stream
	s.mu.Unlock()
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("natsstore: sync: stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	return s.waitApplied(ctx, info.State.LastSeq)
}

// waitApplied waits until the view has applied seq.
func (s *Store) waitApplied(ctx context.Context, seq uint64) error {
	for {
		changed := s.applied.changed()
		if s.view.LastID() >= seq {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.quit:
			return store.ErrClosed
		}
	}
}

// LocalView is the replica's view, which also keeps the records that stay
// local (stacks, alert rules).
func (s *Store) LocalView() *store.View { return s.view }

// Query is store.Store.Query, answered by the view.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	return s.view.Query(ctx, q)
}

// Aggregate is store.Store.Aggregate, answered by the view.
func (s *Store) Aggregate(ctx context.Context, f store.Filter, a store.Aggregator) (float64, error) {
	return s.view.Aggregate(ctx, f, a)
}

// Scan is store.Store.Scan, answered by the view.
func (s *Store) Scan(ctx context.Context, after, upTo uint64, f store.Filter, fn func(wire.Event) error) error {
	return s.view.Scan(ctx, after, upTo, f, fn)
}

// LastID is the newest event the view has applied.
func (s *Store) LastID() uint64 { return s.view.LastID() }

// Subscribe follows the events as the view applies them, in id order.
func (s *Store) Subscribe(size int) *hub.Subscription[*wire.Event] { return s.view.Subscribe(size) }

// Close stops consuming, closes the connection and then the view.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.quit)
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
		s.mu.Lock()
		if s.cc != nil {
			s.cc.Stop()
		}
		if s.nc != nil {
			s.nc.Close()
		}
		s.mu.Unlock()
		if err := s.view.Close(); err != nil {
			s.closeErr = fmt.Errorf("natsstore: close: %w", err)
		}
	})
	return s.closeErr
}
