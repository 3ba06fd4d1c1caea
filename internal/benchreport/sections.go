package main

// The benchmark names and units below are those the benchmarks report
// (server/*_bench_test.go, internal/*/bench_test.go).
const (
	fanout1000  = "BenchmarkEventsFanout/clients=1000"
	latency     = "BenchmarkEventsLatency"
	binary100   = "BenchmarkEventsLatencyBinary/clients=100"
	binary1000  = "BenchmarkEventsLatencyBinary/clients=1000"
	post64      = "BenchmarkEventPost/clients=64"
	statsLoad   = "BenchmarkStatsLoad"
	ingest      = "BenchmarkIngest"
	sampling    = "BenchmarkHistorySampling"
	uiLoad      = "BenchmarkUILoad"
	uiWasmSize  = "BenchmarkUIWasmSize"
	uiMain      = "BenchmarkUIMainThread100"
	sse1000     = "BenchmarkEventsSSE/clients=1000"
	idleRSS     = "BenchmarkEventsIdleRSS"
	alertRules  = "BenchmarkAlertRules100"
	alertLogs   = "BenchmarkAlertLogRules"
	replicaR1   = "BenchmarkReplicaPost/R=1"
	replicaR3   = "BenchmarkReplicaPost/R=3"
	catchUp     = "BenchmarkViewCatchUp"
	engines500  = "BenchmarkEngines"
	statsEngine = "BenchmarkStatsEngineSource"
	fanoutFloor = "Floor of fan-out and latency: the same pre-encoded frames, one writer goroutine per connection draining a queue as deep as crowsnest's, no HTTP handler, hub or filter; crowsnest and the floor alternate, the figures are medians."
)

var sections = []section{
	{
		title:    "Container events over /events/ws (issue 2)",
		prefixes: []string{"BenchmarkEventsFanout", "BenchmarkEventsLatency", "BenchmarkEventsIdleRSS", "BenchmarkPublish", "BenchmarkMatch"},
		rules: []rule{
			{bench: "BenchmarkEventsFanout/clients=1", metric: "ratio", label: "fan-out burst, 1 client: ratio to the floor"},
			{bench: "BenchmarkEventsFanout/clients=100", metric: "ratio", label: "fan-out burst, 100 clients: ratio to the floor"},
			{bench: fanout1000, metric: "msgs/s", label: "fan-out burst, 1,000 clients: delivered messages/s"},
			{bench: fanout1000, metric: "floor-msgs/s", label: "fan-out burst, 1,000 clients: floor messages/s"},
			{bench: fanout1000, metric: "ratio", label: "fan-out burst, 1,000 clients: ratio to the floor", op: ">=", target: 0.8, why: fanoutWhy},
			{bench: fanout1000, metric: "allocs/event", label: "fan-out burst, 1,000 clients: allocations per event (whole process)"},
			{bench: latency, metric: "p50-ms", label: "100 events/s to 1,000 clients, in-process: p50 ms"},
			{bench: latency, metric: "p99-ms", label: "100 events/s to 1,000 clients, in-process: p99 ms"},
			{bench: latency, metric: "floor-p99-ms", label: "100 events/s to 1,000 clients, floor: p99 ms"},
			{bench: latency, metric: "p99-ratio", label: "100 events/s to 1,000 clients: p99 / floor's p99", op: "<=", target: 1.5, why: latencyWhy},
			{bench: binary100, metric: "p99-ms", label: "100 events/s to 100 clients, real binary: p99 ms (reference)"},
			{bench: binary1000, metric: "p50-ms", label: "100 events/s to 1,000 clients, real binary: p50 ms"},
			{bench: binary1000, metric: "p99-ms", label: "100 events/s to 1,000 clients, real binary (clients in another process): p99 ms", op: "<", target: 50, why: binaryWhy},
			{bench: binary1000, metric: "post-p50-ms", label: "… of which the durable POST, p50 ms"},
			{bench: binary1000, metric: "delivered/expected", label: "100 events/s to 1,000 clients, real binary: delivered/expected", op: ">=", target: 1},
			{bench: binary1000, metric: "rss-MB", label: "100 events/s to 1,000 clients, real binary: peak RSS MB"},
			{bench: idleRSS, metric: "rss-MB", label: "real binary, 1,000 idle clients: RSS MB", op: "<", target: 100, why: idleWhy},
			{bench: idleRSS, metric: "rss-MB-before", label: "real binary, before any client: RSS MB"},
			{bench: idleRSS, metric: "KB/client", label: "real binary, idle: KB per client"},
		},
		floors: []string{fanoutFloor},
	},
	{
		title:    "Event store (issue 3)",
		prefixes: []string{"BenchmarkEventPost", "BenchmarkEventsQuery", "BenchmarkEventsSSE", "BenchmarkAppend", "BenchmarkGroupCommitFloor", "BenchmarkQueryDeep"},
		rules: []rule{
			{bench: "BenchmarkEventPost/clients=1", metric: "ratio", label: "durable POST, 1 client: ratio to the group-commit floor"},
			{bench: "BenchmarkEventPost/clients=16", metric: "ratio", label: "durable POST, 16 clients: ratio to the group-commit floor"},
			{bench: post64, metric: "events/s", label: "durable POST (HTTP), 64 clients: events/s"},
			{bench: post64, metric: "store-events/s", label: "store alone (Append), 64 clients: events/s"},
			{bench: post64, metric: "floor-events/s", label: "group-commit floor, 64 clients: events/s"},
			{bench: post64, metric: "store-ratio", label: "store alone, 64 clients: ratio to the floor"},
			{bench: post64, metric: "ratio", label: "durable POST, 64 clients: ratio to the floor", op: ">=", target: 0.8, why: postWhy},
			{bench: post64, metric: "cpu-us/event", label: "durable POST (HTTP), 64 clients: CPU µs per event (whole process, clients included)"},
			{bench: post64, metric: "store-cpu-us/event", label: "store alone, 64 clients: CPU µs per event"},
			{bench: post64, metric: "floor-cpu-us/event", label: "group-commit floor, 64 clients: CPU µs per event"},
			{bench: "BenchmarkEventsQuery/filter=none", metric: "page1-p99-ms", label: "1M events, no filter, page 1: p99 ms", op: "<", target: 10},
			{bench: "BenchmarkEventsQuery/filter=none", metric: "deep-p99-ms", label: "1M events, no filter, page 10,000: p99 ms", op: "<", target: 10},
			{bench: "BenchmarkEventsQuery/filter=none", metric: "ratio-deep/page1", label: "1M events, no filter: deep/page 1 (p50)", op: "<=", target: 2},
			{bench: "BenchmarkEventsQuery/filter=tag", metric: "page1-p99-ms", label: "1M events, tag filter, page 1: p99 ms", op: "<", target: 10},
			{bench: "BenchmarkEventsQuery/filter=tag", metric: "deep-p99-ms", label: "1M events, tag filter, page 10,000: p99 ms", op: "<", target: 10},
			{bench: "BenchmarkEventsQuery/filter=tag", metric: "ratio-deep/page1", label: "1M events, tag filter: deep/page 1 (p50)", op: "<=", target: 2},
			{bench: "BenchmarkEventsQuery/filter=type", metric: "page1-p99-ms", label: "1M events, type filter, page 1: p99 ms", op: "<", target: 10},
			{bench: "BenchmarkEventsQuery/filter=type", metric: "deep-p99-ms", label: "1M events, type filter, page 10,000: p99 ms", op: "<", target: 10},
			{bench: "BenchmarkEventsQuery/filter=type", metric: "ratio-deep/page1", label: "1M events, type filter: deep/page 1 (p50)", op: "<=", target: 2},
			{bench: "BenchmarkEventsSSE/clients=100", metric: "p99-ms", label: "SSE, 100 events/s to 100 clients: p99 ms (reference)"},
			{bench: sse1000, metric: "p50-ms", label: "SSE, 100 events/s to 1,000 clients: p50 ms"},
			{bench: sse1000, metric: "p99-ms", label: "SSE, 100 events/s to 1,000 clients: p99 ms"},
			{bench: sse1000, metric: "post-p50-ms", label: "… of which the durable POST, p50 ms"},
			{bench: sse1000, metric: "delivered/expected", label: "SSE, 1,000 clients: delivered/expected", op: ">=", target: 1},
			{bench: sse1000, metric: "rss-MB", label: "SSE, 1,000 clients: server peak RSS MB"},
		},
		floors: []string{"Floor of the durable POST: one goroutine committing every pending put in one fsynced bbolt `db.Update`, fed by as many goroutines as clients; per event, the normalised event JSON-encoded under the next sequence plus one empty entry per index entry the store writes (its time, each tag, its type) in a second bucket, pages packed as the store packs them (FillPercent 0.9), without the store's counters and spans; no HTTP; five 1 s rounds taking turns with the HTTP path and the store alone (`store.Append`), figures are medians."},
	},
	{
		title:    "Live stats (issue 4)",
		prefixes: []string{"BenchmarkStats"},
		rules: []rule{
			{bench: statsLoad, metric: "crowsnest-%core/container/engine", label: "engine source: crowsnest % of a core per container", op: "<", target: 0.1},
			{bench: statsLoad, metric: "crowsnest-%core/container/cgroup", label: "cgroup source: crowsnest % of a core per container", op: "<", target: 0.1},
			{bench: statsLoad, metric: "engine-%core/idle", label: "engine processes, no stats reader: % of a core (median)"},
			{bench: statsLoad, metric: "engine-above-idle-%core/container/engine", label: "engine source: engine CPU above idle, % of a core per container (median)"},
			{bench: statsLoad, metric: "engine-above-idle-%core/container/cgroup", label: "cgroup source: engine CPU above idle, % of a core per container (median)"},
			{bench: statsLoad, metric: "cgroup/engine-above-idle", label: "engine CPU above idle, cgroup source / engine source (≤ 0.2 is ≥ 5× less)", op: "<=", target: 0.2, why: statsWhy},
			{bench: statsLoad, metric: "crowsnest-RSS-MiB/engine", label: "engine source: crowsnest RSS MiB"},
			{bench: statsLoad, metric: "crowsnest-RSS-MiB/cgroup", label: "cgroup source: crowsnest RSS MiB"},
			{bench: statsEngine, metric: "cpu-us/sample", label: "engine source, 50 containers, one viewer at 2 s: crowsnest CPU µs per delivered sample (whole process)"},
			{bench: statsEngine, metric: "floor-cpu-us/sample", label: "… the floor: one goroutine per container decoding the engine's stream with encoding/json into the fields used: CPU µs per sample"},
			{bench: statsEngine, metric: "ratio", label: "engine source: crowsnest / floor, CPU per delivered sample (issue 23)", op: "<=", target: 1, why: statsEngineWhy},
			{bench: statsEngine, metric: "engine-%core", label: "… the engine's processes while crowsnest reads: % of a core"},
			{bench: statsEngine, metric: "floor-engine-%core", label: "… the engine's processes while the floor reads: % of a core"},
		},
		floors: []string{
			"Floor of the engine's cost: the engine's processes (dockerd, containerd, shims) with the same containers and no stats reader; idle, engine-source and cgroup-source windows alternate, figures are medians over the rounds.",
			"Floor of the engine source (issue 23): one goroutine per container, in the benchmark's process, reading the engine's stats stream through the moby client (without its OpenTelemetry instrumentation, as crowsnest's engine clients) and decoding every frame with encoding/json into the fields a sample uses, delivering nothing; its samples are those a 2 s viewer gets (one frame in two). crowsnest (its own process, `--stats-source engine`, one /docker/stats client at 2 s) and the floor take turns for 3 rounds of 30 s; figures are medians.",
		},
	},
	{
		title:    "Compose stacks (issue 5)",
		prefixes: []string{"BenchmarkStack"},
	},
	{
		title:    "Web UI (issue 6)",
		prefixes: []string{"BenchmarkUI", "BenchmarkWasm"},
		rules: []rule{
			{bench: uiWasmSize, metric: "br-MB", label: "app.wasm, brotli: MB", op: "<=", target: 5},
			{bench: uiLoad, metric: "cold-ms", label: "cold load over the emulated link: ms", op: "<=", target: 2500, why: coldWhy},
			{bench: uiLoad, metric: "warm-ms", label: "warm load over the emulated link: ms", op: "<=", target: 700, why: warmWhy},
			{bench: uiMain, metric: "main-thread-ms/s", label: "overview with 100 containers: main-thread work ms/s", op: "<", target: 200},
		},
		floors: []string{"The loads run in Chromium with its network emulation (link figures in the table: download Mbit/s, round trip ms); there is no floor."},
	},
	{
		title:    "Engine event ingest (issue 10)",
		prefixes: []string{"BenchmarkIngest"},
		rules: []rule{
			{bench: ingest, metric: "events/s", label: "engine events stored: events/s"},
			{bench: ingest, metric: "floor-events/s", label: "floor: events/s"},
			{bench: ingest, metric: "ratio", label: "ingest: ratio to the floor", op: ">=", target: 0.8, why: ingestWhy},
			{bench: ingest, metric: "engine-churn-events/s", label: "the engine's own emission rate, 100 containers created and removed 24 at a time: events/s"},
			{bench: ingest, metric: "x-engine-churn", label: "ingest rate / the engine's churn rate", op: ">=", target: 10},
		},
		floors: []string{"Floor of ingest: one goroutine committing each batch of the same records, with one plain entry per time, tag and type as the store indexes them, in one bbolt `Update`."},
	},
	{
		title:    "Alerts (issue 14)",
		prefixes: []string{"BenchmarkAlert"},
		rules: []rule{
			{bench: alertRules, metric: "ns/event", label: "one container event against 100 event rules of 5 shapes (shared outcomes): ns per event", op: "<", target: 5000},
			{bench: alertRules + "Distinct", metric: "ns/event", label: "… against 100 rules whose expressions all differ (worst case): ns per event"},
			{bench: alertLogs, metric: "crowsnest-%core", label: "log rules on 50 containers writing 1,000 lines/s in all: crowsnest % of a core", op: "<", target: 5, why: alertLogsWhy},
			{bench: alertLogs, metric: "floor-%core", label: "… the floor: one goroutine and engine stream per container, the four rules hand-written: % of a core"},
			{bench: alertLogs, metric: "ratio", label: "… crowsnest / floor (medians of alternating windows)"},
			{bench: alertLogs, metric: "lines/s", label: "… lines the containers wrote per second (measured)"},
		},
	},
	{
		title:    "Stats history (issue 15)",
		prefixes: []string{"BenchmarkHistory", "BenchmarkBytesPerContainerDay", "BenchmarkRecordRound", "BenchmarkQuery30Days"},
		rules: []rule{
			{bench: sampling, metric: "crowsnest-%core/container", label: "sampling every 10 s, 200 containers, nobody watching: the whole crowsnest process, % of a core per container", op: "<", target: 0.02},
			{bench: sampling, metric: "sampling-%core/container", label: "… of which above the same process sampling hourly (noisy on a loaded machine; may be below 0)"},
			{bench: "BenchmarkBytesPerContainerDay", metric: "B/container/day", label: "history.db bytes per container per day (10 s, 1 min and 10 min tiers)"},
			{bench: "BenchmarkBytesPerContainerDay", metric: "B/container-retained", label: "history.db bytes per container with every tier full (30 days)"},
			{bench: "BenchmarkQuery30Days", metric: "p99-ms", label: "30-day query of one of 200 containers: p99 ms"},
			{bench: "BenchmarkRecordRound", metric: "µs/container", label: "recording a 10 s round of 200 containers: µs per container"},
		},
		floors: []string{"The target is checked on the whole process, an upper bound of the sampling's cost. Floor: the same crowsnest, containers and window with --stats-every 1h, so no round falls in the window; the sampling's own share is the difference of their CPU times."},
	},
	{
		title:    "500 engines from one process (issue 23)",
		prefixes: []string{"BenchmarkEngines"},
		rules: []rule{
			{bench: engines500, metric: "engines", label: "engines (one private local engine on as many loopback TCP ports)"},
			{bench: engines500, metric: "connect-s", label: "from the start until every engine is connected: s", op: "<=", target: 10},
			{bench: engines500, metric: "rss-MB", label: "idle (no viewer, no sampling round in the window): RSS MB", op: "<=", target: 300},
			{bench: engines500, metric: "idle-%core", label: "idle: CPU, % of a core", op: "<=", target: 3, why: enginesIdleWhy},
			{bench: engines500, metric: "idle-engine-events/s", label: "… container events the engine sent meanwhile, per second (each reaches crowsnest once per engine)"},
			{bench: engines500, metric: "sampling-rss-MB", label: "history sampler every 10 s, engine source: RSS MB", op: "<=", target: 300},
			{bench: engines500, metric: "sampling-%core", label: "… CPU, % of a core"},
			{bench: engines500, metric: "oneshots/round", label: "… one-shot stats requests per round (every running container of every engine)"},
			{bench: engines500, metric: "sampling-cpu-ms/round", label: "… crowsnest CPU per 10 s round (whole process, so the idle work too): ms"},
			{bench: engines500, metric: "sampling-cpu-us/oneshot", label: "… the same per one-shot: µs"},
			{bench: engines500, metric: "sampling-peak-conns", label: "… most connections open at once beyond those open before the window (the sampler's own requests are at most its Total, 256, as TestSamplerBoundsRequestsAcrossEngines checks; the inventory's listings and the pings come on top)"},
		},
		floors: []string{"The engines are one private local engine (its own dockerd, so other tests' containers do not come and go on it) on 500 loopback ports (a forwarder in the benchmark's process), each a `--host` of its own; crowsnest runs in its own process, once with `--stats-every 1h` (idle) and once with `--stats-every 10s` and a few sleeper containers (sampling), both `--stats-source engine` as on remote engines. There is no floor: the targets are the issue's."},
	},
	{
		title:    "Replicas on NATS JetStream (issue 16)",
		prefixes: []string{"BenchmarkReplicaPost", "BenchmarkViewCatchUp"},
		rules: append(append(replicaPostRules(replicaR1, "R=1 (one server)"), replicaPostRules(replicaR3, "R=3 (three-node cluster)")...),
			rule{bench: catchUp, metric: "events/s", label: "catch-up of a fresh view on 50,000 stored events: events/s"},
			rule{bench: catchUp, metric: "read-events/s", label: "… the read alone (ordered consumer, nothing applied): events/s"},
			rule{bench: catchUp, metric: "ratio", label: "… catch-up / read alone"},
		),
		floors: []string{
			"Floor of the POST: 64 goroutines each normalising the same events, JSON-encoding them as the store's stream messages and publishing them with a synchronous, acknowledged `js.Publish` on one shared connection, to a stream whose configuration is copied from crowsnest's (file storage, same replicas), with no view; three 1 s rounds taking turns with the store alone (`natsstore.Append`, which also waits for its view) and the HTTP path (a whole crowsnest with `--store nats://…`), each crowsnest side alone on the stream and caught up before its window; figures are medians, CPU is the whole process (NATS servers and clients included).",
			"Floor of the catch-up: an ordered consumer reading the same stream with nothing applied; three rounds taking turns with a store opened on an empty view.db (timed from Open until Sync returns), figures are medians.",
		},
	},
}

// replicaPostRules are the rows of one replication factor's POST benchmark.
func replicaPostRules(bench, r string) []rule {
	return []rule{
		{bench: bench, metric: "events/s", label: r + ", durable POST (HTTP), 64 clients: events/s"},
		{bench: bench, metric: "store-events/s", label: r + ", store alone (Append), 64 clients: events/s"},
		{bench: bench, metric: "floor-events/s", label: r + ", JetStream publish floor, 64 clients: events/s"},
		{bench: bench, metric: "store-ratio", label: r + ", store alone: ratio to the floor"},
		{bench: bench, metric: "ratio", label: r + ", durable POST: ratio to the floor", op: ">=", target: 0.7, why: replicaPostWhy(bench)},
		{bench: bench, metric: "p99-ms", label: r + ", durable POST: p99 ms"},
		{bench: bench, metric: "store-p99-ms", label: r + ", store alone: p99 ms"},
		{bench: bench, metric: "floor-p99-ms", label: r + ", floor: p99 ms"},
		{bench: bench, metric: "cpu-us/event", label: r + ", durable POST: CPU µs per event (whole process: NATS servers and clients included)"},
		{bench: bench, metric: "store-cpu-us/event", label: r + ", store alone: CPU µs per event"},
		{bench: bench, metric: "floor-cpu-us/event", label: r + ", floor: CPU µs per event"},
	}
}
