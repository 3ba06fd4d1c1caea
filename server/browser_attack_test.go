package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/moby/moby/client"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// attackJS defines attack(base, ws, container, stackID): every way a web
// page can reach a server without its cooperation, aimed at crowsnest's
// admin routes and data. It resolves to what the page could observe: the
// statuses and bodies it could read and the socket messages it received.
// Requests whose answers the page cannot see (no-cors, forms, beacons)
// are judged by their effects, which the test checks on the server.
const attackJS = `
async function attack(base, ws, container, stackID) {
  const seen = {readable: [], wsMessages: 0, wsOpened: 0, sse: 0, images: 0};
  const stack = JSON.stringify({name: 'attack', compose: 'services:\n  web:\n    image: nginx\n'});
  const event = JSON.stringify({tags: ['attack']});
  const tryFetch = async (url, init) => {
    try {
      const r = await fetch(url, init);
      if (r.type !== 'opaque') seen.readable.push(init.method + ' ' + url + ' ' + r.status + ' ' + (await r.text()).slice(0, 200));
    } catch (e) { /* refused or unreadable: what we want */ }
  };
  // fetch: simple requests (no preflight), and CORS ones (preflighted).
  await tryFetch(base + '/api/v1/stacks', {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: stack});
  await tryFetch(base + '/api/v1/stacks', {method: 'POST', mode: 'no-cors', body: new Blob([stack])});
  await tryFetch(base + '/api/v1/stacks', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: stack});
  await tryFetch(base + '/api/v1/stacks/' + stackID + '/deploy', {method: 'POST', mode: 'no-cors'});
  await tryFetch(base + '/api/v1/containers/' + container + '/restart', {method: 'POST', mode: 'no-cors'});
  await tryFetch(base + '/api/v1/events', {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: event});
  await tryFetch(base + '/api/v1/events', {method: 'POST', mode: 'no-cors', body: new Blob([event])});
  await tryFetch(base + '/api/v1/stacks/' + stackID, {method: 'DELETE', mode: 'no-cors'});
  // reads
  for (const p of ['/api/v1/containers', '/api/v1/hosts', '/api/v1/stacks', '/api/v1/events', '/metrics']) {
    await tryFetch(base + p, {method: 'GET'});
  }
  // form posts, into an iframe so the page stays
  const frame = document.createElement('iframe');
  frame.name = 'sink';
  document.body.appendChild(frame);
  const post = (action, enctype, fields) => new Promise(resolve => {
    const f = document.createElement('form');
    f.method = 'POST'; f.action = action; f.target = 'sink'; f.enctype = enctype;
    for (const [k, v] of Object.entries(fields)) {
      const i = document.createElement('input');
      i.name = k; i.value = v; f.appendChild(i);
    }
    document.body.appendChild(f);
    frame.onload = () => resolve();
    f.submit();
    setTimeout(resolve, 2000);
  });
  await post(base + '/api/v1/containers/' + container + '/restart', 'application/x-www-form-urlencoded', {});
  await post(base + '/api/v1/stacks/' + stackID + '/deploy', 'application/x-www-form-urlencoded', {});
  // text/plain forms send "name=value": a name ending in {"x":" and a
  // value "} make that JSON.
  await post(base + '/api/v1/stacks', 'text/plain', {[stack.slice(0, -1) + ',"x":"']: '"}'});
  await post(base + '/api/v1/events', 'text/plain', {[event.slice(0, -1) + ',"x":"']: '"}'});
  // beacons
  navigator.sendBeacon(base + '/api/v1/events', event);
  navigator.sendBeacon(base + '/api/v1/stacks', stack);
  navigator.sendBeacon(base + '/api/v1/containers/' + container + '/restart');
  navigator.sendBeacon(base + '/api/v1/stacks/' + stackID + '/deploy');
  // images
  await Promise.all(['/api/v1/containers', '/api/v1/events', '/metrics'].map(p => new Promise(resolve => {
    const img = new Image();
    img.onload = () => { seen.images++; resolve(); };
    img.onerror = () => resolve();
    img.src = base + p;
  })));
  // websockets and server-sent events
  await Promise.all(['/events/ws?since=1h', '/docker/stats', '/stacks', '/logs/ws'].map(p => new Promise(resolve => {
    let s;
    try { s = new WebSocket(ws + p); } catch (e) { resolve(); return; }
    s.onopen = () => seen.wsOpened++;
    s.onmessage = () => seen.wsMessages++;
    s.onclose = () => resolve();
    setTimeout(() => { s.close(); resolve(); }, 2000);
  })));
  await new Promise(resolve => {
    const es = new EventSource(base + '/api/v1/events/stream');
    es.onmessage = () => seen.sse++;
    es.onerror = () => { es.close(); resolve(); };
    setTimeout(() => { es.close(); resolve(); }, 2000);
  });
  return JSON.stringify(seen);
}
`

// attackSeen is what attackJS reports.
type attackSeen struct {
	Readable   []string `json:"readable"`
	WSMessages int      `json:"wsMessages"`
	WSOpened   int      `json:"wsOpened"`
	SSE        int      `json:"sse"`
	Images     int      `json:"images"`
}

// TestBrowserForeignPagesChangeNothing: crowsnest open on loopback (make
// run's default) and a real Chromium. A page served from another origin (a
// second server on another port) and a page on a rebound DNS name (a
// made-up name Chromium resolves to 127.0.0.1) try fetch, form posts,
// beacons, images, websockets and SSE against the admin routes: no stack is
// created or deployed, the container is not restarted, no event is stored,
// and the pages read nothing. The same requests from crowsnest's own
// origin do work, so the test would notice protection that merely breaks
// everything.
func TestBrowserForeignPagesChangeNothing(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	id, name := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-sleep", "1h"}})
	startedAt := containerStartedAt(t, eng, id)
	srv := startServer(t, "--request-rate", "0")
	stackID := createStack(t, srv, "victim", "services:\n  web:\n    image: nginx\n")
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]

	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><title>a page elsewhere</title><body><p>nothing to see</p></body>")
	}))
	t.Cleanup(attacker.Close)

	const rebound = "crowsnest-rebind.test"
	b := newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP "+rebound+" 127.0.0.1"))
	b.allow(".") // refused requests are the point: the console reports every one

	run := func(where, pageURL, base, ws string) attackSeen {
		t.Helper()
		b.navigate(pageURL)
		var out string
		b.eval("attack from "+where, attackJS+fmt.Sprintf("; attack(%s, %s, %s, %d)", jsString(base), jsString(ws), jsString(name), stackID), &out)
		var seen attackSeen
		if err := json.Unmarshal([]byte(out), &seen); err != nil {
			t.Fatalf("attack from %s: %v: %s", where, err, out)
		}
		t.Logf("attack from %s: %+v", where, seen)
		return seen
	}
	wsBase := "ws://127.0.0.1:" + port
	for _, a := range []struct{ where, page, base, ws string }{
		{"another origin", attacker.URL + "/", srv.URL, wsBase},
		// The rebound page is crowsnest's own port under the made-up
		// name: same-origin to the browser, so only the Host check stands.
		{"a rebound name", "http://" + rebound + ":" + port + "/", "", "ws://" + rebound + ":" + port},
	} {
		seen := run(a.where, a.page, a.base, a.ws)
		for _, r := range seen.Readable {
			if !strings.Contains(r, " 421 ") {
				t.Errorf("page on %s read an answer: %s", a.where, r)
			}
		}
		if seen.WSOpened+seen.WSMessages+seen.SSE+seen.Images > 0 {
			t.Errorf("page on %s: %d sockets opened, %d socket messages, %d SSE messages, %d images loaded; want none",
				a.where, seen.WSOpened, seen.WSMessages, seen.SSE, seen.Images)
		}
	}
	time.Sleep(time.Second) // beacons are sent after the page moves on

	if got := containerStartedAt(t, eng, id); got != startedAt {
		t.Errorf("the container was restarted: started %s, then %s", startedAt, got)
	}
	type stackRow struct {
		ID     int    `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
		Action string `json:"action"`
	}
	var stacks []stackRow
	getJSON(t, srv.URL+"/api/v1/stacks", &stacks)
	// Projects other tests run on the shared engine are listed as external
	// (id 0); an attack could only have made records.
	stacks = slices.DeleteFunc(stacks, func(s stackRow) bool { return s.ID == 0 })
	if len(stacks) != 1 || stacks[0].Name != "victim" || stacks[0].Status != "created" || stacks[0].Action != "" {
		t.Errorf("stacks after the attacks: %+v, want only victim, created, no action", stacks)
	}
	var events []json.RawMessage
	getJSON(t, srv.URL+"/api/v1/events?tag=attack", &events)
	var stackEvents []json.RawMessage
	getJSON(t, srv.URL+"/api/v1/events?type=stack", &stackEvents)
	if len(events)+len(stackEvents) > 0 {
		t.Errorf("events stored by the attacks: %d tagged attack, %d of stacks", len(events), len(stackEvents))
	}

	// Control: the same page at crowsnest's own origin does all of it.
	b.navigate(srv.URL + "/")
	var status string
	b.eval("own origin", `(async () => {
	  const s = [];
	  const post = async (p, body) => { const r = await fetch(p, {method: 'POST', headers: body ? {'Content-Type': 'application/json'} : {}, body}); s.push(r.status); };
	  await post('/api/v1/events', JSON.stringify({tags: ['own']}));
	  await post('/api/v1/stacks', JSON.stringify({name: 'own', compose: 'services:\n  web:\n    image: nginx\n'}));
	  await post('/api/v1/containers/`+name+`/restart');
	  const r = await fetch('/api/v1/containers'); s.push(r.status);
	  return s.join(' ');
	})()`, &status)
	if status != "201 201 204 200" {
		t.Errorf("from crowsnest's own origin: statuses %s, want 201 201 204 200", status)
	}
	if got := containerStartedAt(t, eng, id); got == startedAt {
		t.Error("the own-origin restart did not restart the container")
	}
}

// containerStartedAt is when the container last started, by the engine.
func containerStartedAt(t *testing.T, eng *client.Client, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return in.Container.State.StartedAt
}

// getJSON GETs u (no browser headers: a script) and decodes the answer.
func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
