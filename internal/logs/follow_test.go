package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// viewLines runs v in the background and delivers its lines and its end.
func viewLines(t *testing.T, v *View) (<-chan wire.LogLine, <-chan error) {
	t.Helper()
	lines, done := make(chan wire.LogLine, 1024), make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		done <- runView(ctx, v, func(l wire.LogLine) error {
			lines <- l
			return nil
		})
	}()
	return lines, done
}

func numberOf(t *testing.T, l wire.LogLine) int {
	t.Helper()
	n, err := strconv.Atoi(l.Line[strings.LastIndexByte(l.Line, ' ')+1:])
	if err != nil {
		t.Fatalf("line %q does not end in a number", l.Line)
	}
	return n
}

func next(t *testing.T, lines <-chan wire.LogLine) wire.LogLine {
	t.Helper()
	select {
	case l := <-lines:
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("no line within 20s")
	}
	return wire.LogLine{}
}

// forEachEngine runs f as parallel subtests against Docker and against
// Podman, with the host name crowsnest would know each by.
func forEachEngine(t *testing.T, f func(t *testing.T, host string, eng *client.Client)) {
	t.Run("docker", func(t *testing.T) {
		t.Parallel()
		f(t, "Localhost", testenv.Engine(t))
	})
	t.Run("podman", func(t *testing.T) {
		t.Parallel()
		f(t, "podman", testenv.Podman(t).Client())
	})
}

func TestStreamsBacklogBeyondMemoryIsContinuous(t *testing.T) {
	t.Parallel()
	forEachEngine(t, testStreamsBacklogBeyondMemoryIsContinuous)
}

func testStreamsBacklogBeyondMemoryIsContinuous(t *testing.T, host string, eng *client.Client) {
	// Remember only 5 lines, so a tail of 12 must come partly from the engine.
	s := NewStreams(Options{Recent: 5, Grace: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(s.Close)
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "20ms"}})
	testenv.WaitLog(t, eng, id, "line 30")
	ctr := Container{ID: id}

	v, err := s.Open(t.Context(), host, eng, ctr, ViewOptions{Tail: 12, Queue: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	lines, _ := viewLines(t, v)
	first := numberOf(t, next(t, lines))
	if first < 19 {
		t.Errorf("first line %d: want one of the last 12 of at least 30", first)
	}
	for want := first + 1; want < first+30; want++ {
		if n := numberOf(t, next(t, lines)); n != want {
			t.Fatalf("line %d, want %d: a gap or a repeat between backlog and live", n, want)
		}
	}
	if s.Requests(RequestBacklog) != 1 || s.Requests(RequestFollow) != 1 {
		t.Errorf("requests: backlog %d follow %d, want 1 and 1", s.Requests(RequestBacklog), s.Requests(RequestFollow))
	}
}

// TestStreamsStoppedContainerEnds reads a stopped container's output to its
// end: both streams apart without a TTY, one stream without the terminal's
// carriage returns with one.
func TestStreamsStoppedContainerEnds(t *testing.T) {
	t.Parallel()
	forEachEngine(t, testStreamsStoppedContainerEnds)
}

func testStreamsStoppedContainerEnds(t *testing.T, host string, eng *client.Client) {
	s := NewStreams(Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(s.Close)
	for _, tty := range []bool{false, true} {
		id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "3", "-stderr"}, TTY: tty})
		ctx := t.Context()
		wait := eng.ContainerWait(ctx, id, client.ContainerWaitOptions{})
		select {
		case <-wait.Result:
		case err := <-wait.Error:
			t.Fatal(err)
		}
		v, err := s.Open(ctx, host, eng, Container{ID: id, TTY: tty}, ViewOptions{Tail: -1, Queue: 16})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		err = runView(ctx, v, func(l wire.LogLine) error {
			got = append(got, l.Stream+":"+l.Line)
			return nil
		})
		v.Close()
		if !errors.Is(err, ErrStopped) {
			t.Errorf("tty %v: Run = %v, want ErrStopped", tty, err)
		}
		want := "[stdout:line 1 stderr:err line 1 stdout:line 2 stderr:err line 2 stdout:line 3 stderr:err line 3]"
		if tty {
			want = "[stdout:line 1 stdout:err line 1 stdout:line 2 stdout:err line 2 stdout:line 3 stdout:err line 3]"
		}
		if fmt.Sprint(sortedByNumber(got)) != want {
			t.Errorf("tty %v: lines = %q, want %s", tty, got, want)
		}
	}
}

// sortedByNumber orders "stream:text N" lines by N, stdout first: an engine
// may log one stream's lines before the other's.
func sortedByNumber(lines []string) []string {
	out := slices.Clone(lines)
	slices.SortStableFunc(out, func(a, b string) int {
		na, _ := strconv.Atoi(a[strings.LastIndexByte(a, ' ')+1:])
		nb, _ := strconv.Atoi(b[strings.LastIndexByte(b, ' ')+1:])
		if na != nb {
			return na - nb
		}
		return strings.Compare(b[:6], a[:6]) // "stdout" before "stderr"
	})
	return out
}

// A tap sees each line written after it joined, once and in order, shares
// the follow with the container's viewers, and ends with the container.
func TestTapSeesNewLinesAndEndsWithTheContainer(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	s := NewStreams(Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(s.Close)
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "60", "-every", "50ms"}})
	testenv.WaitLog(t, eng, id, "line 5")
	ctr := Container{ID: id}
	v, err := s.Open(t.Context(), "Localhost", eng, ctr, ViewOptions{Queue: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	var got []int
	err = s.Tap(t.Context(), "Localhost", eng, ctr, func(l wire.LogLine) { got = append(got, numberOf(t, l)) })
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("Tap = %v, want ErrStopped once the container exited", err)
	}
	if len(got) == 0 || got[len(got)-1] != 60 {
		t.Fatalf("tap saw %v, want the lines up to the last, 60", got)
	}
	if got[0] <= 5 {
		t.Errorf("tap's first line is %d: it saw lines written before it joined (line 5 was)", got[0])
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("tap saw %d after %d: a gap or a repeat", got[i], got[i-1])
		}
	}
	if n := s.Requests(RequestFollow); n != 1 {
		t.Errorf("%d engine follows for a viewer and a tap of one container, want 1", n)
	}
}

// A tap whose context ends returns at once, and its function is not
// called after that.
func TestTapEndsWithItsContext(t *testing.T) {
	t.Parallel()
	eng := testenv.Engine(t)
	s := NewStreams(Options{Grace: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(s.Close)
	id, _ := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-lines", "-1", "-every", "5ms"}})
	ctx, cancel := context.WithCancel(t.Context())
	var calls atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- s.Tap(ctx, "Localhost", eng, Container{ID: id}, func(wire.LogLine) {
			if calls.Add(1) == 20 {
				cancel()
			}
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Tap = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Tap did not return within 30s of its context ending")
	}
	n := calls.Load()
	time.Sleep(200 * time.Millisecond) // the container goes on writing every 5 ms
	if after := calls.Load(); after != n {
		t.Errorf("the tap's function ran %d more times after Tap returned", after-n)
	}
}
