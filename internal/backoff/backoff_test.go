package backoff

import (
	"context"
	"testing"
	"time"
)

func TestWaitsGrowWithinBoundsAndReset(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	steps := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, step := range steps {
		step *= time.Millisecond
		for range 50 { // jitter: every draw within [step/2, step]
			c := b
			if d := c.Next(); d < step/2 || d > step {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", i, d, step/2, step)
			}
		}
		b.Next()
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after Reset: wait %v, want at most Min", d)
	}
}

func TestWaitStopsWithTheContext(t *testing.T) {
	b := Backoff{Min: time.Hour, Max: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if b.Wait(ctx) {
		t.Fatal("Wait on an ended context says go on")
	}
	if time.Since(start) > time.Second {
		t.Fatal("Wait did not return when the context ended")
	}
}
