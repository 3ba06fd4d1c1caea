package hub

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// deadline bounds every wait in these tests: Publish must never wait for a
// subscriber, so anything slower than this is a hang, not a slow machine.
const deadline = 5 * time.Second

// within fails the test if fn does not return before the deadline. It is how
// the tests prove that Publish does not block on readers that never read.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatalf("%s did not finish within %v", what, deadline)
	}
}

// drain returns what is queued in s without waiting.
func drain[T any](s *Subscription[T]) []T {
	var got []T
	for {
		select {
		case v := <-s.C():
			got = append(got, v)
		default:
			return got
		}
	}
}

// collect reads s until it ends, then takes what was still queued: values
// queued before the end are valid and a reader should not lose them.
func collect[T any](s *Subscription[T]) []T {
	var got []T
	for {
		select {
		case v := <-s.C():
			got = append(got, v)
		case <-s.Done():
			return append(got, drain(s)...)
		}
	}
}

func waitDone[T any](t *testing.T, s *Subscription[T]) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(deadline):
		t.Fatalf("subscription not ended within %v", deadline)
	}
}

func assertSeq(t *testing.T, who string, got []int, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("%s got %d values, want %d (%d..%d)", who, len(got), to-from, from, to-1)
	}
	for i, v := range got {
		if v != from+i {
			t.Fatalf("%s value #%d = %d, want %d", who, i, v, from+i)
		}
	}
}

func TestEverySubscriberGetsEveryValueInOrder(t *testing.T) {
	const subs, n = 8, 1000
	h := New[int]()
	results := make([][]int, subs)
	var wg sync.WaitGroup
	for i := range subs {
		// Queues of varied size, all read concurrently; n fits in each so
		// that no reader can fall behind far enough to be dropped.
		s := h.Subscribe(n + i)
		wg.Go(func() { results[i] = collect(s) })
	}
	if h.Len() != subs {
		t.Fatalf("Len = %d, want %d", h.Len(), subs)
	}
	within(t, "Publish", func() {
		for v := range n {
			h.Publish(v)
		}
	})
	h.Close()
	wg.Wait()
	for i, got := range results {
		assertSeq(t, fmt.Sprintf("subscriber %d", i), got, 0, n)
	}
	if h.Dropped() != 0 {
		t.Errorf("Dropped = %d, want 0", h.Dropped())
	}
}

func TestSlowSubscriberIsCutOffOthersKeepEverything(t *testing.T) {
	const n, slowSize, fast = 500, 4, 3
	h := New[int]()
	slow := h.Subscribe(slowSize) // never read until the end
	results := make([][]int, fast)
	subs := make([]*Subscription[int], fast)
	var wg sync.WaitGroup
	for i := range fast {
		subs[i] = h.Subscribe(n)
		wg.Go(func() { results[i] = collect(subs[i]) })
	}

	within(t, "Publish with a subscriber that never reads", func() {
		for v := range n {
			h.Publish(v)
		}
	})

	waitDone(t, slow)
	if !errors.Is(slow.Err(), ErrOverflow) {
		t.Errorf("slow Err = %v, want ErrOverflow", slow.Err())
	}
	// What fitted before the overflow is still there, in order: a reader
	// can deliver it and resume after the last one.
	assertSeq(t, "slow subscriber", drain(slow), 0, slowSize)
	if got := h.Dropped(); got != 1 {
		t.Errorf("Dropped = %d, want 1", got)
	}
	if got := h.Len(); got != fast {
		t.Errorf("Len = %d, want %d (the slow one removed)", got, fast)
	}
	for _, s := range subs {
		select {
		case <-s.Done():
			t.Fatalf("a fast subscriber ended: %v", s.Err())
		default:
		}
	}

	h.Close()
	wg.Wait()
	for i, got := range results {
		assertSeq(t, fmt.Sprintf("fast subscriber %d", i), got, 0, n)
	}
	// The overflow stays the reason even after the hub closes.
	if !errors.Is(slow.Err(), ErrOverflow) {
		t.Errorf("slow Err after hub Close = %v, want ErrOverflow", slow.Err())
	}
}

func TestPublishNeverBlocksOnManyStalledSubscribers(t *testing.T) {
	const subs, n = 200, 10_000
	h := New[int]()
	all := make([]*Subscription[int], subs)
	for i := range all {
		all[i] = h.Subscribe(1 + i%7)
	}
	within(t, "Publish to stalled subscribers", func() {
		for v := range n {
			h.Publish(v)
		}
	})
	for i, s := range all {
		waitDone(t, s)
		if !errors.Is(s.Err(), ErrOverflow) {
			t.Errorf("subscriber %d Err = %v, want ErrOverflow", i, s.Err())
		}
	}
	if got := h.Dropped(); got != subs {
		t.Errorf("Dropped = %d, want %d", got, subs)
	}
	if got := h.Len(); got != 0 {
		t.Errorf("Len = %d, want 0", got)
	}
}

func TestSubscribeSizeAtLeastOne(t *testing.T) {
	for _, size := range []int{0, -5} {
		h := New[string]()
		s := h.Subscribe(size)
		h.Publish("a") // fits: the queue holds one value
		select {
		case <-s.Done():
			t.Fatalf("Subscribe(%d): ended after one value: %v", size, s.Err())
		default:
		}
		within(t, "Publish to a full queue", func() { h.Publish("b") }) // does not fit
		waitDone(t, s)
		if !errors.Is(s.Err(), ErrOverflow) {
			t.Errorf("Subscribe(%d): Err = %v, want ErrOverflow", size, s.Err())
		}
		if got := drain(s); len(got) != 1 || got[0] != "a" {
			t.Errorf("Subscribe(%d): queued %q, want [a]", size, got)
		}
	}
}

func TestCloseEndsEverySubscription(t *testing.T) {
	h := New[int]()
	subs := []*Subscription[int]{h.Subscribe(1), h.Subscribe(10), h.Subscribe(100)}
	h.Publish(1)
	h.Close()
	for i, s := range subs {
		waitDone(t, s)
		if !errors.Is(s.Err(), ErrClosed) {
			t.Errorf("subscriber %d Err = %v, want ErrClosed", i, s.Err())
		}
		// Closed is not overflow: the value published before stays readable.
		assertSeq(t, fmt.Sprintf("subscriber %d", i), drain(s), 1, 2)
	}
	if h.Len() != 0 {
		t.Errorf("Len after Close = %d, want 0", h.Len())
	}
	if h.Dropped() != 0 {
		t.Errorf("Dropped after Close = %d, want 0", h.Dropped())
	}

	late := h.Subscribe(5)
	select {
	case <-late.Done():
	default:
		t.Fatal("Subscribe after Close returned a live subscription")
	}
	if !errors.Is(late.Err(), ErrClosed) {
		t.Errorf("late Err = %v, want ErrClosed", late.Err())
	}
	if h.Len() != 0 {
		t.Errorf("Len after late Subscribe = %d, want 0", h.Len())
	}

	// None of these may panic or change the verdicts.
	within(t, "Publish after Close", func() { h.Publish(2) })
	h.Close()
	late.Close()
	subs[0].Close()
	if len(drain(late)) != 0 {
		t.Error("a value reached a subscription made after Close")
	}
	if !errors.Is(subs[0].Err(), ErrClosed) || !errors.Is(late.Err(), ErrClosed) {
		t.Errorf("Err changed by Close after the hub closed: %v, %v", subs[0].Err(), late.Err())
	}
}

func TestSubscriberCloseRemovesIt(t *testing.T) {
	h := New[int]()
	a, b := h.Subscribe(10), h.Subscribe(10)
	if err := a.Err(); err != nil {
		t.Fatalf("Err of a live subscription = %v, want nil", err)
	}
	h.Publish(1)
	a.Close()
	waitDone(t, a)
	if err := a.Err(); err != nil {
		t.Errorf("Err after own Close = %v, want nil", err)
	}
	if got := h.Len(); got != 1 {
		t.Errorf("Len = %d, want 1", got)
	}
	h.Publish(2)
	assertSeq(t, "closed subscriber", drain(a), 1, 2) // 2 not queued
	assertSeq(t, "other subscriber", drain(b), 1, 3)
	a.Close() // twice is fine
	if got := h.Dropped(); got != 0 {
		t.Errorf("Dropped = %d, want 0: closing is not overflowing", got)
	}
	if h.Len() != 1 {
		t.Errorf("Len after second Close = %d, want 1", h.Len())
	}
}

func TestOverflowWinsOverLaterClose(t *testing.T) {
	h := New[int]()
	s := h.Subscribe(1)
	h.Publish(1)
	within(t, "Publish to a full queue", func() { h.Publish(2) })
	s.Close()
	if !errors.Is(s.Err(), ErrOverflow) {
		t.Errorf("Err = %v, want ErrOverflow kept after Close", s.Err())
	}
	if h.Dropped() != 1 {
		t.Errorf("Dropped = %d, want 1", h.Dropped())
	}
}

func TestDroppedCountsEachOverflowOnce(t *testing.T) {
	h := New[int]()
	for range 5 {
		h.Subscribe(2)
	}
	within(t, "Publish to full queues", func() {
		for v := range 10 {
			h.Publish(v)
		}
	})
	if got := h.Dropped(); got != 5 {
		t.Errorf("Dropped = %d, want 5", got)
	}
	h.Subscribe(1)
	within(t, "Publish to a full queue", func() {
		h.Publish(0)
		h.Publish(1)
	})
	if got := h.Dropped(); got != 6 {
		t.Errorf("Dropped = %d, want 6", got)
	}
}

// TestConcurrentUse runs subscribers that come, read and go while one
// goroutine publishes; run it with -race. With a single publisher each
// subscriber must see a gap-free run of values: it may join late or be cut
// off, but never miss one in the middle, or resuming after its last value
// would lose events.
func TestConcurrentUse(t *testing.T) {
	const n, workers = 20_000, 8
	h := New[int]()
	stop := make(chan struct{})
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for round := 0; ; round++ {
				select {
				case <-stop:
					errc <- nil
					return
				default:
				}
				s := h.Subscribe(1 + (w+round)%16)
				prev, got := -1, 0
				limit := 50 + (w*round)%200 // read a while, then leave
			read:
				for got < limit {
					select {
					case v := <-s.C():
						if prev >= 0 && v != prev+1 {
							errc <- fmt.Errorf("worker %d: got %d after %d", w, v, prev)
							s.Close()
							return
						}
						prev = v
						got++
					case <-s.Done():
						break read
					}
				}
				s.Close()
				if err := s.Err(); err != nil && !errors.Is(err, ErrOverflow) && !errors.Is(err, ErrClosed) {
					errc <- fmt.Errorf("worker %d: unexpected Err %v", w, err)
					return
				}
				_ = h.Len()
				_ = h.Dropped()
			}
		})
	}
	within(t, "concurrent Publish", func() {
		for v := range n {
			h.Publish(v)
		}
	})
	close(stop)
	h.Close()
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Error(err)
		}
	}
	if h.Len() != 0 {
		t.Errorf("Len after Close = %d, want 0", h.Len())
	}
}

// TestConcurrentPublishers checks the promise for several publishers: each
// subscriber sees every publisher's values in that publisher's order.
func TestConcurrentPublishers(t *testing.T) {
	const pubs, n, subs = 4, 2000, 4
	type msg struct{ pub, seq int }
	h := New[msg]()
	results := make([][]msg, subs)
	var readers sync.WaitGroup
	for i := range subs {
		s := h.Subscribe(pubs * n) // room for everything: nobody is dropped
		readers.Go(func() { results[i] = collect(s) })
	}
	within(t, "concurrent publishers", func() {
		var wg sync.WaitGroup
		for p := range pubs {
			wg.Go(func() {
				for i := range n {
					h.Publish(msg{p, i})
				}
			})
		}
		wg.Wait()
	})
	h.Close()
	readers.Wait()
	for i, got := range results {
		if len(got) != pubs*n {
			t.Fatalf("subscriber %d got %d values, want %d", i, len(got), pubs*n)
		}
		next := make([]int, pubs)
		for _, m := range got {
			if m.seq != next[m.pub] {
				t.Fatalf("subscriber %d: publisher %d value %d, want %d", i, m.pub, m.seq, next[m.pub])
			}
			next[m.pub]++
		}
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, subs := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			// Queues are emptied with the timer stopped, so the figure is
			// the cost of Publish alone, not of readers' scheduling.
			const size = 256
			h := New[int]()
			all := make([]*Subscription[int], subs)
			for i := range all {
				all[i] = h.Subscribe(size)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%size == size-1 {
					b.StopTimer()
					for _, s := range all {
						drain(s)
					}
					b.StartTimer()
				}
				h.Publish(i)
			}
			b.StopTimer()
			if h.Dropped() != 0 || h.Len() != subs {
				b.Fatalf("subscribers dropped: %d (Len %d)", h.Dropped(), h.Len())
			}
		})
	}
}
