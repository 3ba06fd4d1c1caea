package testenv

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Churn creates and removes n helper containers on c, workers at a time, as a
// CI runner or a large compose deploy does: two events each (create and
// destroy), concurrent enough that the engine delivers some out of timestamp
// order. Each container carries the run label and labels. midway, if not
// nil, is called once half of them are done while the rest go on. Churn
// returns how long the n containers took.
func Churn(tb testing.TB, c *client.Client, n, workers int, labels map[string]string, midway func()) time.Duration {
	tb.Helper()
	image := helperImageOn(tb, c)
	key, value := Label(tb)
	labels = maps.Clone(labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[key] = value
	next := make(chan int)
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := createAndRemove(c, image, i, labels); err != nil {
					errs <- err
					for range next { // let the feeder finish
					}
					return
				}
				done.Add(1)
			}
		})
	}
	midwayDone := make(chan struct{})
	go func() {
		defer close(midwayDone)
		if midway == nil {
			return
		}
		for done.Load() < int64(n/2) && len(errs) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		midway()
	}()
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	<-midwayDone
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return elapsed
}

func createAndRemove(c *client.Client, image string, i int, labels map[string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: image, Labels: labels, Cmd: []string{"-exit", "0"}},
	})
	if err != nil {
		return fmt.Errorf("churn %d: create: %w", i, err)
	}
	if _, err := c.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
		return fmt.Errorf("churn %d: remove: %w", i, err)
	}
	return nil
}
