package containermetrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

type fixed struct {
	known   []stats.Container
	samples []stats.Sample
}

func (f fixed) Snapshot() ([]stats.Container, []stats.Sample) { return f.known, f.samples }

func TestExporterSeries(t *testing.T) {
	web := stats.Container{Host: "local", ID: "a1", Name: "web", Image: "nginx:1", State: "running", Health: "healthy", Restarts: 2,
		Labels: map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}}
	old := stats.Container{Host: "local", ID: "b2", Name: "job", Image: "busybox", State: "exited"}
	stale := web // a removed namesake still in the inventory
	stale.ID, stale.State = "a0", "exited"
	e := New(fixed{
		known: []stats.Container{web, old, stale},
		samples: []stats.Sample{{Container: web,
			Reading: stats.Reading{CPU: 2_500_000_000, NetRx: 100, NetTx: 200, BlockRead: 300, BlockWrite: 400},
			Usage:   stats.Usage{CPUPercent: 150, MemoryBytes: 64 << 20, MemoryLimit: 1 << 30}}},
	})
	e.ObserveEvent(wire.ContainerEvent{Type: "container", Host: "local", Action: "health_status: healthy"})
	e.ObserveEvent(wire.ContainerEvent{Type: "container", Host: "local", Action: "start"})
	e.ObserveEvent(wire.ContainerEvent{Type: "container", Host: "local", Action: "start"})
	e.ObserveEvent(wire.ContainerEvent{Type: "network", Host: "local", Action: "connect"})

	const lv = `compose_project="shop",compose_service="web",host="local",image="nginx:1",name="web"`
	const jv = `compose_project="",compose_service="",host="local",image="busybox",name="job"`
	want := `
# HELP crowsnest_container_cpu_usage_cores CPU in use over the last sampling interval, in cores: 1 is one busy core (docker stats shows 100 %).
# TYPE crowsnest_container_cpu_usage_cores gauge
crowsnest_container_cpu_usage_cores{` + lv + `} 1.5
# HELP crowsnest_container_cpu_usage_seconds_total CPU time the container used since it started, in seconds.
# TYPE crowsnest_container_cpu_usage_seconds_total counter
crowsnest_container_cpu_usage_seconds_total{` + lv + `} 2.5
# HELP crowsnest_container_memory_usage_bytes Memory in use without the inactive page cache, as docker stats shows it.
# TYPE crowsnest_container_memory_usage_bytes gauge
crowsnest_container_memory_usage_bytes{` + lv + `} 6.7108864e+07
# HELP crowsnest_container_network_receive_bytes_total Bytes received on every interface but loopback since the container started.
# TYPE crowsnest_container_network_receive_bytes_total counter
crowsnest_container_network_receive_bytes_total{` + lv + `} 100
# HELP crowsnest_container_block_write_bytes_total Bytes written to block devices since the container started.
# TYPE crowsnest_container_block_write_bytes_total counter
crowsnest_container_block_write_bytes_total{` + lv + `} 400
# HELP crowsnest_container_restarts_total Times the engine restarted the container (its restart count).
# TYPE crowsnest_container_restarts_total counter
crowsnest_container_restarts_total{` + lv + `} 2
# HELP crowsnest_container_state 1 for the container's current state, 0 for the others.
# TYPE crowsnest_container_state gauge
crowsnest_container_state{` + jv + `,state="created"} 0
crowsnest_container_state{` + jv + `,state="dead"} 0
crowsnest_container_state{` + jv + `,state="exited"} 1
crowsnest_container_state{` + jv + `,state="paused"} 0
crowsnest_container_state{` + jv + `,state="removing"} 0
crowsnest_container_state{` + jv + `,state="restarting"} 0
crowsnest_container_state{` + jv + `,state="running"} 0
crowsnest_container_state{` + lv + `,state="created"} 0
crowsnest_container_state{` + lv + `,state="dead"} 0
crowsnest_container_state{` + lv + `,state="exited"} 0
crowsnest_container_state{` + lv + `,state="paused"} 0
crowsnest_container_state{` + lv + `,state="removing"} 0
crowsnest_container_state{` + lv + `,state="restarting"} 0
crowsnest_container_state{` + lv + `,state="running"} 1
# HELP crowsnest_container_health 1 for the container's current health, 0 for the others; only containers with a healthcheck.
# TYPE crowsnest_container_health gauge
crowsnest_container_health{compose_project="shop",compose_service="web",health="healthy",host="local",image="nginx:1",name="web"} 1
crowsnest_container_health{compose_project="shop",compose_service="web",health="starting",host="local",image="nginx:1",name="web"} 0
crowsnest_container_health{compose_project="shop",compose_service="web",health="unhealthy",host="local",image="nginx:1",name="web"} 0
# HELP crowsnest_container_events_total Container events seen, by engine and action (health_status and exec actions without their detail).
# TYPE crowsnest_container_events_total counter
crowsnest_container_events_total{action="health_status",host="local"} 1
crowsnest_container_events_total{action="start",host="local"} 2
`
	names := []string{"crowsnest_container_cpu_usage_cores", "crowsnest_container_cpu_usage_seconds_total",
		"crowsnest_container_memory_usage_bytes", "crowsnest_container_network_receive_bytes_total",
		"crowsnest_container_block_write_bytes_total", "crowsnest_container_restarts_total",
		"crowsnest_container_state", "crowsnest_container_health", "crowsnest_container_events_total"}
	if err := testutil.CollectAndCompare(e, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("Prometheus convention: %s: %s", p.Metric, p.Text)
	}
}
