package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	bolt "go.etcd.io/bbolt"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Sizes of the mixed load of TestCrashDuringMixedLoad. The test runs under
// -race in `make test`, so the clients are kept to what two shared cores can
// drive while the binary and a compose deploy run beside them.
const (
	crashPosters   = 8  // goroutines POSTing events back to back
	crashWSClients = 40 // /events/ws subscribers
	crashSSEs      = 40 // /api/v1/events/stream subscribers
	crashStackSubs = 20 // /stacks subscribers
)

// TestCrashDuringMixedLoad SIGKILLs the real binary while event POSTs, a
// stack deploy/stop cycle on a two-service stack and many stream
// subscribers all run, then checks what a crash may not break: the bbolt
// file as the kill left it passes bbolt's own consistency check, the
// server starts on it, every acknowledged (201) event and every event a
// subscriber was shown is stored unchanged, the stack is not left pending
// and its status is what the engine shows, the stack still takes actions,
// and deleting it leaves no container, network or volume behind.
func TestCrashDuringMixedLoad(t *testing.T) {
	testenv.ShareEngineMemory(t) // a flood elsewhere would make this a gap
	if testing.Short() {
		t.Skip("builds and kills the real binary, deploys a stack")
	}
	eng := testenv.Engine(t)
	image := testenv.HelperImage(t)
	t.Cleanup(func() { testenv.RemoveAll(t, eng) })
	project := stackName(t, "crashmix")
	cleanupProject(t, eng, project) // the safety net; the test deletes the stack itself
	labelKey, run := testenv.Label(t)

	data := t.TempDir()
	// No rate or stream limits: every client here shares one address.
	limits := []string{"--request-rate", "0", "--max-streams", "0"}
	first := startBinary(t, data, limits...)
	srv := &liveServer{t: t, URL: first.URL} // for apiCall; never started or stopped as one

	ctl := dialWS(t, srv.WS("/stacks"), nil)
	ctl.nextStack(t, 5*time.Second) // greeting
	var st wire.Stack
	mustAPI(t, srv, "POST", "/api/v1/stacks", wire.StackRequest{
		Name: project, Compose: twoServiceStack(t, image, "crash"), Env: "GREETING=mixed\n",
	}, &st, http.StatusCreated)
	base := "/api/v1/stacks/" + strconv.FormatInt(st.ID, 10)

	// The load. Every client stops on its own when the server dies: the
	// kernel closes the sockets of a killed process.
	load := newCrashLoad()
	load.subscribe(t, srv, run, labelKey)
	for c := range crashPosters {
		load.wg.Go(func() { load.post(first.URL, c) })
	}

	// The stack cycles deploy → stop → deploy, and the kill lands inside
	// the second deploy, once compose has reported its first step: the
	// record says pending, containers are being started.
	mustAPI(t, srv, "POST", base+"/deploy", nil, nil, http.StatusAccepted)
	if msgs := ctl.untilDone(t, st.ID, actionTimeout); msgs[len(msgs)-1].Data.Status != wire.StackDeployed {
		t.Fatalf("first deploy: %v", msgs)
	}
	ctrs := projectContainers(t, eng, project)
	testenv.WaitLog(t, eng, ctrs["web"], "1") // SIGTERM handler installed: stop is prompt
	mustAPI(t, srv, "POST", base+"/stop", nil, nil, http.StatusAccepted)
	if msgs := ctl.untilDone(t, st.ID, actionTimeout); msgs[len(msgs)-1].Data.Status != wire.StackStopped {
		t.Fatalf("stop: %v", msgs)
	}
	mustAPI(t, srv, "POST", base+"/deploy", nil, nil, http.StatusAccepted)
	for {
		f := ctl.nextStack(t, actionTimeout)
		if f.Data.StackID == st.ID && f.Type == wire.StackProgressType {
			break
		}
		if f.Data.StackID == st.ID && f.Type == wire.StackStatusType && f.Data.Status != wire.StackPending {
			t.Fatalf("second deploy ended before any progress: %s", f)
		}
	}
	time.Sleep(200 * time.Millisecond) // into the action, not at its first line
	first.kill()

	// Every client must notice the crash promptly (a client hanging on a
	// dead server would be a resource leak in a real deployment).
	done := make(chan struct{})
	go func() { load.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("clients still running 15 s after the server was killed")
	}
	acked, shown := load.results()
	t.Logf("before the kill: %d events acknowledged, %d distinct events shown on SSE, frames read: events/ws %d, SSE %d, stacks %d",
		len(acked), len(shown), load.wsFrames.Load(), load.sseFrames.Load(), load.stackFrames.Load())
	if len(acked) < 50 {
		t.Fatalf("only %d events acknowledged before the kill; the load did not run", len(acked))
	}
	if load.sseFrames.Load() == 0 || load.stackFrames.Load() == 0 || load.wsFrames.Load() == 0 {
		t.Errorf("a kind of subscriber read nothing: events/ws %d, SSE %d, stacks %d",
			load.wsFrames.Load(), load.sseFrames.Load(), load.stackFrames.Load())
	}
	if err := load.err(); err != nil {
		t.Errorf("load before the kill: %v", err)
	}

	// The file exactly as the kill left it, before anything opens it for
	// writing (a restart would repair nothing, but would hide what it saw).
	checkBoltFile(t, filepath.Join(data, "crowsnest.db"))

	second := startBinary(t, data, limits...)
	srv = &liveServer{t: t, URL: second.URL}

	// Every acknowledged event, and every event a subscriber was shown
	// (shown means committed), is stored unchanged.
	stored := crashStoredEvents(t, second.URL)
	missing := 0
	for id, want := range acked {
		got, ok := stored[id]
		if !ok {
			missing++
			continue
		}
		if !bytes.Equal(got.Value, want.Value) || !slices.Equal(got.Tags, want.Tags) || !got.Timestamp.Equal(want.Timestamp) {
			t.Errorf("event %d changed: got %+v, want %+v", id, got, want)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged events are missing after SIGKILL", missing, len(acked))
	}
	for id, want := range shown {
		got, ok := stored[id]
		if !ok {
			t.Errorf("event %d was shown on SSE before the kill but is not stored", id)
			continue
		}
		if !bytes.Equal(got.Value, want.Value) {
			t.Errorf("event %d shown as %s, stored as %s", id, want.Value, got.Value)
		}
	}

	// The stack is not pending, and its status is what the engine shows.
	got := waitStackTrue(t, srv, eng, st.ID, project, 30*time.Second)
	t.Logf("stack after restart: %s (killed mid-deploy)", got.Status)

	// It still takes actions: no worker or lock survived the crash.
	ctl = dialWS(t, srv.WS("/stacks"), nil)
	ctl.nextStack(t, 5*time.Second)
	mustAPI(t, srv, "POST", base+"/deploy", nil, nil, http.StatusAccepted)
	if msgs := ctl.untilDone(t, st.ID, actionTimeout); msgs[len(msgs)-1].Data.Status != wire.StackDeployed {
		t.Errorf("deploy after the crash: %v", msgs)
	}
	waitStackTrue(t, srv, eng, st.ID, project, 15*time.Second)

	// Delete through crowsnest: nothing of the stack may remain.
	mustAPI(t, srv, "DELETE", base, nil, nil, http.StatusAccepted)
	if msgs := ctl.untilDone(t, st.ID, actionTimeout); msgs[len(msgs)-1].Type != wire.StackRemovedType {
		t.Errorf("delete: %v", msgs)
	}
	if left := projectContainers(t, eng, project); len(left) != 0 {
		t.Errorf("containers left after delete: %v", left)
	}
	if n, v := projectResources(t, eng, project); n != 0 || v != 0 {
		t.Errorf("after delete: %d networks, %d volumes left", n, v)
	}
}

// crashLoad is the mixed client load of TestCrashDuringMixedLoad and what
// it saw before the kill.
type crashLoad struct {
	wg sync.WaitGroup

	mu     sync.Mutex
	acked  map[uint64]wire.Event // 201 answers
	shown  map[uint64]wire.Event // events read on SSE
	errors []error

	wsFrames, sseFrames, stackFrames atomic.Int64
}

func newCrashLoad() *crashLoad {
	return &crashLoad{acked: map[uint64]wire.Event{}, shown: map[uint64]wire.Event{}}
}

func (l *crashLoad) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errors) < 10 {
		l.errors = append(l.errors, err)
	}
}

func (l *crashLoad) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.errors...)
}

// results is what was acknowledged and shown; call it once every client
// has ended, as nothing writes the maps then.
func (l *crashLoad) results() (acked, shown map[uint64]wire.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked, l.shown
}

// subscribe opens every subscriber before the load starts, so the server
// is fanning out to all of them when it dies. Each reads until its socket
// fails; a failure before the kill is an error, found by the test through
// the frames (a subscriber that failed early leaves its count short), so
// here a read error simply ends the reader.
func (l *crashLoad) subscribe(t *testing.T, srv *liveServer, run, labelKey string) {
	t.Helper()
	filters := `{"label":["` + labelKey + `=` + run + `"]}`
	for range crashWSClients {
		c := crashDial(t, srv.WS("/events/ws?filters="+url.QueryEscape(filters)))
		l.wg.Go(func() { l.readWS(c, &l.wsFrames) })
	}
	for range crashStackSubs {
		c := crashDial(t, srv.WS("/stacks"))
		l.wg.Go(func() { l.readWS(c, &l.stackFrames) })
	}
	for range crashSSEs {
		resp, err := http.Get(srv.URL + "/api/v1/events/stream?type=crashmix")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("SSE: status %d", resp.StatusCode)
		}
		l.wg.Go(func() { l.readSSE(resp.Body) })
	}
}

// crashDial opens a socket whose reads are done by the load's readers.
func crashDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.SetReadLimit(4 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func (l *crashLoad) readWS(c *websocket.Conn, n *atomic.Int64) {
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			return
		}
		n.Add(1)
	}
}

// readSSE records every event the stream shows; an event shown to a client
// was committed, so it must survive the crash too.
func (l *crashLoad) readSSE(body io.ReadCloser) {
	defer body.Close()
	rd := bufio.NewReader(body)
	for {
		line, err := rd.ReadBytes('\n')
		if err != nil {
			return // the kill
		}
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			continue
		}
		var ev wire.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			l.fail(fmt.Errorf("SSE data %q: %w", data, err))
			return
		}
		l.sseFrames.Add(1)
		l.mu.Lock()
		l.shown[ev.ID] = ev
		l.mu.Unlock()
	}
}

// post sends events back to back until the server dies, keeping each one
// that got a 201.
func (l *crashLoad) post(url string, client int) {
	hc := &http.Client{Timeout: 10 * time.Second}
	for i := 0; ; i++ {
		body := fmt.Sprintf(`{"tags":["client:%d","seq:%d"],"type":"crashmix","value":{"client":%d,"n":%d,"pad":"%s"}}`,
			client, i, client, i, strings.Repeat("x", i%64))
		resp, err := hc.Post(url+"/api/v1/events", "application/json", strings.NewReader(body))
		if err != nil {
			return // killed: connection refused or reset
		}
		var ev wire.Event
		err = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || err != nil {
			// A killed server cannot answer at all, so a full answer
			// that is not a 201 is a real failure.
			if err == nil {
				l.fail(fmt.Errorf("POST: status %d", resp.StatusCode))
			}
			continue
		}
		l.mu.Lock()
		l.acked[ev.ID] = ev
		l.mu.Unlock()
	}
}

// checkBoltFile opens the store read-only with bbolt itself and runs its
// consistency check (page reachability, freelist, ordering of keys), so
// that "opens clean" does not depend on what crowsnest's own open tolerates.
func checkBoltFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("bbolt open %s after SIGKILL: %v", path, err)
	}
	defer db.Close()
	buckets := 0
	err = db.View(func(tx *bolt.Tx) error {
		var problems []error
		for err := range tx.Check() {
			problems = append(problems, err)
		}
		if err := tx.ForEach(func([]byte, *bolt.Bucket) error { buckets++; return nil }); err != nil {
			problems = append(problems, err)
		}
		return errors.Join(problems...)
	})
	if err != nil {
		t.Fatalf("bbolt check of %s after SIGKILL: %v", path, err)
	}
	if buckets == 0 {
		t.Fatalf("bbolt file %s has no buckets after SIGKILL", path)
	}
}

// crashStoredEvents reads every stored crashmix event, page by page.
func crashStoredEvents(t *testing.T, url string) map[uint64]wire.Event {
	t.Helper()
	stored := map[uint64]wire.Event{}
	for page := 1; ; page++ {
		resp, err := http.Get(url + "/api/v1/events?type=crashmix&per_page=1000&page=" + strconv.Itoa(page))
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
			return stored
		}
		for _, e := range evs {
			stored[e.ID] = e
		}
	}
}

// waitStackTrue waits until stack id is idle (not pending, no action) and
// its status is the one the engine's containers give, and returns it.
func waitStackTrue(t *testing.T, srv *liveServer, eng *client.Client, id int64, project string, d time.Duration) wire.Stack {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var st wire.Stack
		mustAPI(t, srv, "GET", "/api/v1/stacks/"+strconv.FormatInt(id, 10), nil, &st, http.StatusOK)
		want, detail := engineStackStatus(t, eng, project, []string{"db", "web"})
		ok := st.Status != wire.StackPending && st.Action == ""
		if want == "" { // no container at all: never deployed, or nothing survived
			ok = ok && (st.Status == wire.StackCreated || st.Status == wire.StackError)
		} else {
			ok = ok && st.Status == want
		}
		if ok {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack %d is %q (action %q), the engine shows %q (%s)", id, st.Status, st.Action, want, detail)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// engineStackStatus is the status a stack with the declared services should
// have from its containers on the engine, computed here independently of
// internal/stacks: running when every service has a running container,
// stopped when none has, partial otherwise, "" when no container exists.
func engineStackStatus(t *testing.T, eng *client.Client, project string, declared []string) (status, detail string) {
	t.Helper()
	res, err := eng.ContainerList(context.Background(), client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+project),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) == 0 {
		return "", "no containers"
	}
	running := map[string]bool{}
	var states []string
	for _, c := range res.Items {
		svc := c.Labels[api.ServiceLabel]
		states = append(states, svc+"="+string(c.State))
		if c.State == container.StateRunning {
			running[svc] = true
		}
	}
	n := 0
	for _, s := range declared {
		if running[s] {
			n++
		}
	}
	detail = strings.Join(states, " ")
	switch n {
	case len(declared):
		return wire.StackRunning, detail
	case 0:
		return wire.StackStopped, detail
	default:
		return wire.StackPartial, detail
	}
}
