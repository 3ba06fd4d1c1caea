package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// TestAcknowledgedEventsSurviveSIGKILL posts from many clients, kills the
// real binary mid-load with SIGKILL, restarts it on the same file, and
// finds every event that got a 201, unchanged.
func TestAcknowledgedEventsSurviveSIGKILL(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	data := t.TempDir()
	first := startBinary(t, data, "--request-rate", "0", "--host", "Localhost=unix:///nonexistent/docker.sock")

	var mu sync.Mutex
	acked := map[uint64]wire.Event{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"tags":["client:%d","seq:%d"],"type":"durability","value":{"n":%d}}`, c, i, i)
				resp, err := client.Post(first.URL+"/api/v1/events", "application/json", bytes.NewBufferString(body))
				if err != nil {
					return // the server was killed under us
				}
				var ev wire.Event
				err = json.NewDecoder(resp.Body).Decode(&ev)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated || err != nil {
					continue
				}
				mu.Lock()
				acked[ev.ID] = ev
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	first.kill()
	close(stop)
	wg.Wait()
	if len(acked) < 100 {
		t.Fatalf("only %d events acknowledged before the kill; the load did not run", len(acked))
	}

	second := startBinary(t, data, "--host", "Localhost=unix:///nonexistent/docker.sock")
	stored := map[uint64]wire.Event{}
	for page := 1; ; page++ {
		resp, err := http.Get(second.URL + "/api/v1/events?type=durability&per_page=1000&page=" + strconv.Itoa(page))
		if err != nil {
			t.Fatal(err)
		}
		var evs []wire.Event
		err = json.NewDecoder(resp.Body).Decode(&evs)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			stored[e.ID] = e
		}
	}
	missing := 0
	for id, want := range acked {
		got, ok := stored[id]
		if !ok {
			missing++
			continue
		}
		if !bytes.Equal(got.Value, want.Value) || fmt.Sprint(got.Tags) != fmt.Sprint(want.Tags) {
			t.Errorf("event %d changed: got %+v, want %+v", id, got, want)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged events are missing after SIGKILL", missing, len(acked))
	}
	t.Logf("%d acknowledged events all present after SIGKILL (%d stored)", len(acked), len(stored))
}
