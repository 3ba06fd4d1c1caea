package main

import (
	"fmt"
	"runtime"
)

// The notes of missed targets: each is computed from the figures of the run
// being reported, so it says what this run measured, never a fixed cause.
// A note whose figures are missing is left out.

// figs fetches the figures of bench named by metrics; ok is false when any
// is missing.
func figs(res results, bench string, metrics ...string) (v []float64, ok bool) {
	for _, m := range metrics {
		x, has := res.get(bench, m)
		if !has {
			return nil, false
		}
		v = append(v, x)
	}
	return v, true
}

func fanoutWhy(res results) string {
	v, ok := figs(res, fanout1000, "msgs/s", "floor-msgs/s", "allocs/event", "floor-allocs/event")
	if !ok {
		return ""
	}
	note := fmt.Sprintf("crowsnest delivered %s messages/s where the floor delivered %s; allocations per event: crowsnest %s, floor %s.",
		format(v[0]), format(v[1]), format(v[2]), format(v[3]))
	if one, ok := res.get("BenchmarkEventsFanout/clients=1", "ratio"); ok {
		note += fmt.Sprintf(" At 1 client the ratio was %s, so the loss grows with the number of clients.", format(one))
	}
	return note
}

func latencyWhy(res results) string {
	v, ok := figs(res, latency, "p50-ms", "p99-ms", "floor-p50-ms", "floor-p99-ms")
	if !ok {
		return ""
	}
	note := fmt.Sprintf("p50 %s ms against the floor's %s ms, p99 %s ms against %s ms.", format(v[0]), format(v[2]), format(v[1]), format(v[3]))
	if v[2] > 0 && v[0]/v[2] <= 1.2 {
		return note + fmt.Sprintf(" The medians agree (%s×): the excess is in the tail.", format(v[0]/v[2]))
	}
	if v[2] > 0 {
		return note + fmt.Sprintf(" The median is already %s× the floor's: every event is slower, not only the tail.", format(v[0]/v[2]))
	}
	return note
}

func binaryWhy(res results) string {
	v, ok := figs(res, binary1000, "p50-ms", "post-p50-ms", "server-cpu-%", "clients-cpu-%")
	if !ok {
		return ""
	}
	p50, post, server, clients := v[0], v[1], v[2], v[3]
	note := ""
	if p50 > 0 {
		part := "the fan-out after it dominates"
		if post/p50 > 0.5 {
			part = "the commit dominates"
		}
		note = fmt.Sprintf("The durable POST's p50 (%s ms) is %.0f%% of the end-to-end p50 (%s ms): %s.", format(post), post/p50*100, format(p50), part)
	}
	all := float64(runtime.NumCPU()) * 100
	note += fmt.Sprintf(" The server used %.0f%% of a core and the clients %.0f%%, of %.0f%% on this machine", server, clients, all)
	if server+clients >= 0.9*all {
		note += ": the cores were saturated."
	} else {
		note += "."
	}
	if p99, ok := res.get(binary100, "p99-ms"); ok {
		note += fmt.Sprintf(" At 100 clients the p99 was %s ms.", format(p99))
	}
	if floor, ok := res.get(latency, "floor-p99-ms"); ok {
		note += fmt.Sprintf(" The in-process floor's p99 at 1,000 clients was %s ms.", format(floor))
	}
	return note
}

func idleWhy(res results) string {
	v, ok := figs(res, idleRSS, "rss-MB-before", "KB/client")
	if !ok {
		return ""
	}
	return fmt.Sprintf("The binary held %s MB before any client connected; each idle client added %s KB.", format(v[0]), format(v[1]))
}

func postWhy(res results) string {
	v, ok := figs(res, post64, "events/s", "store-events/s", "floor-events/s")
	if !ok || v[1] == 0 || v[2] == 0 {
		return ""
	}
	httpPath, store, floor := v[0], v[1], v[2]
	storeKeeps, httpKeeps := store/floor, httpPath/store
	part := "the store (indexes, record encoding) loses more than the HTTP layer"
	if httpKeeps < storeKeeps {
		part = "the HTTP layer (parse, normalise, respond) loses more than the store"
	}
	note := fmt.Sprintf("HTTP path %s events/s, store alone %s, floor %s: the store keeps %.0f%% of the floor and the HTTP path %.0f%% of the store, so %s.",
		format(httpPath), format(store), format(floor), storeKeeps*100, httpKeeps*100, part)
	if cpu, ok := figs(res, post64, "cpu-us/event", "store-cpu-us/event", "floor-cpu-us/event"); ok {
		// The cores the HTTP path would have needed to reach the target
		// rate at the CPU per event it spent.
		need := 0.8 * floor * cpu[0] / 1e6
		note += fmt.Sprintf(" CPU per event (the whole process, clients included): HTTP path %s µs, store alone %s µs, floor %s µs; 0.8× the floor's rate at the HTTP path's CPU per event takes %.1f cores of the %d here.",
			format(cpu[0]), format(cpu[1]), format(cpu[2]), need, runtime.NumCPU())
	}
	return note
}

func statsWhy(res results) string {
	v, ok := figs(res, statsLoad, "engine-above-idle-%core/container/engine", "engine-above-idle-%core/container/cgroup", "engine-%core/idle", "rounds")
	if !ok {
		return ""
	}
	return fmt.Sprintf("Median engine CPU above idle per container over %.0f rounds: engine source %s%%, cgroup source %s%% of a core; the idle engine itself used %s%% of a core.",
		v[3], format(v[0]), format(v[1]), format(v[2]))
}

func coldWhy(res results) string {
	v, ok := figs(res, uiLoad, "cold-ms", "link-Mbit/s", "rtt-ms")
	if !ok || v[1] == 0 {
		return ""
	}
	br, ok := res.get(uiWasmSize, "br-MB")
	if !ok {
		return ""
	}
	transfer := br * 8 / v[1] * 1000
	note := fmt.Sprintf("app.wasm is %s MB brotli: at %s Mbit/s its transfer alone takes %.0f ms of the %s ms, plus round trips of %s ms.",
		format(br), format(v[1]), transfer, format(v[0]), format(v[2]))
	if fetch, ok := res.get(uiLoad, "cold-wasm-fetch-ms"); ok {
		note += fmt.Sprintf(" The page's fetch of app.wasm took %s ms (%.1f× the link's transfer time); the rest, %.0f ms, is the other requests, compiling and starting the app.",
			format(fetch), fetch/transfer, v[0]-fetch)
	}
	return note
}

func warmWhy(res results) string {
	v, ok := figs(res, uiLoad, "warm-ms", "cold-ms")
	if !ok {
		return ""
	}
	return fmt.Sprintf("The warm load (%s ms) came from the service worker's cache; the cold load took %s ms.", format(v[0]), format(v[1]))
}

func ingestWhy(res results) string {
	v, ok := figs(res, ingest, "events/s", "floor-events/s")
	if !ok {
		return ""
	}
	return fmt.Sprintf("Ingest stored %s events/s where the floor committed %s.", format(v[0]), format(v[1]))
}

func alertLogsWhy(res results) string {
	v, ok := figs(res, alertLogs, "crowsnest-%core", "floor-%core")
	if !ok {
		return ""
	}
	note := fmt.Sprintf("crowsnest used %s %% of a core where the floor used %s %%.", format(v[0]), format(v[1]))
	if v[1] >= 5 {
		return note + " The floor alone, reading the engine's 50 streams, misses the 5 % target on this machine: the cost is in following the engine, not in the rules."
	}
	return note
}

// replicaPostWhy says which layer of the POST on JetStream lost what in
// bench's run: the store (publish, then wait for its own view to apply the
// event) against the floor, the HTTP path against the store, and what the
// CPU per event and the view's catch-up rate were.
func replicaPostWhy(bench string) func(results) string {
	return func(res results) string {
		v, ok := figs(res, bench, "events/s", "store-events/s", "floor-events/s", "p99-ms", "store-p99-ms", "floor-p99-ms")
		if !ok || v[1] == 0 || v[2] == 0 {
			return ""
		}
		httpPath, store, floor := v[0], v[1], v[2]
		storeKeeps, httpKeeps := store/floor, httpPath/store
		part := "the store (publish, then wait until its own view applied the event) loses more than the HTTP layer"
		if httpKeeps < storeKeeps {
			part = "the HTTP layer (parse, normalise, respond) loses more than the store"
		}
		note := fmt.Sprintf("HTTP path %s events/s, store alone %s, floor %s: the store keeps %.0f%% of the floor and the HTTP path %.0f%% of the store, so %s. p99: HTTP path %s ms, store alone %s ms, floor %s ms.",
			format(httpPath), format(store), format(floor), storeKeeps*100, httpKeeps*100, part, format(v[3]), format(v[4]), format(v[5]))
		if cpu, ok := figs(res, bench, "cpu-us/event", "store-cpu-us/event", "floor-cpu-us/event"); ok {
			// The cores the HTTP path would have needed to reach the target
			// rate at the CPU per event it spent.
			need := 0.7 * floor * cpu[0] / 1e6
			note += fmt.Sprintf(" CPU per event (the whole process, NATS servers and clients included): HTTP path %s µs, store alone %s µs, floor %s µs; 0.7× the floor's rate at the HTTP path's CPU per event takes %.1f cores of the %d here.",
				format(cpu[0]), format(cpu[1]), format(cpu[2]), need, runtime.NumCPU())
		}
		if rate, ok := res.get(catchUp, "events/s"); ok {
			note += fmt.Sprintf(" A fresh view applied %s events/s catching up in batches (BenchmarkViewCatchUp).", format(rate))
		}
		return note
	}
}

func statsEngineWhy(res results) string {
	v, ok := figs(res, statsEngine, "cpu-us/sample", "floor-cpu-us/sample", "engine-%core", "floor-engine-%core")
	if !ok {
		return ""
	}
	return fmt.Sprintf("crowsnest spent %s µs per delivered sample (its whole process: event stream, inventory, delivery included), the floor %s; the engine used %s %% of a core while crowsnest read and %s %% while the floor did.",
		format(v[0]), format(v[1]), format(v[2]), format(v[3]))
}

func enginesIdleWhy(res results) string {
	v, ok := figs(res, engines500, "idle-engine-events/s", "engines")
	if !ok || v[0] == 0 {
		return ""
	}
	return fmt.Sprintf("The engine sent %s container events/s during the window, each received, stored and followed once per engine: %s events/s in all.",
		format(v[0]), format(v[0]*v[1]))
}
