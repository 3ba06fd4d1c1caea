// Package containermetrics exports the sampled container stats to
// Prometheus, so crowsnest can stand in for cAdvisor: per-container gauges
// and counters (CPU, memory, network and block I/O, restarts, state,
// health) labelled with host, name, image and compose project and
// service, and the container events seen, by action.
package containermetrics

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Source is what the exporter reads at each scrape; stats.Sampler is one.
type Source interface {
	Snapshot() ([]stats.Container, []stats.Sample)
}

// States are the values of the state label: the engine's container states.
var States = []string{"created", "running", "paused", "restarting", "removing", "exited", "dead"}

// Healths are the values of the health label.
var Healths = []string{"starting", "healthy", "unhealthy"}

// labels every container series carries.
var labels = []string{"host", "name", "image", "compose_project", "compose_service"}

func desc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc("crowsnest_container_"+name, help, append(append([]string(nil), labels...), extra...), nil)
}

var (
	cpuSeconds = desc("cpu_usage_seconds_total", "CPU time the container used since it started, in seconds.")
	cpuCores   = desc("cpu_usage_cores", "CPU in use over the last sampling interval, in cores: 1 is one busy core (docker stats shows 100 %).")
	memUsage   = desc("memory_usage_bytes", "Memory in use without the inactive page cache, as docker stats shows it.")
	memLimit   = desc("memory_limit_bytes", "Memory limit of the container, or the host's memory when it has none.")
	netRx      = desc("network_receive_bytes_total", "Bytes received on every interface but loopback since the container started.")
	netTx      = desc("network_transmit_bytes_total", "Bytes sent on every interface but loopback since the container started.")
	blkRead    = desc("block_read_bytes_total", "Bytes read from block devices since the container started.")
	blkWrite   = desc("block_write_bytes_total", "Bytes written to block devices since the container started.")
	restarts   = desc("restarts_total", "Times the engine restarted the container (its restart count).")
	state      = desc("state", "1 for the container's current state, 0 for the others.", "state")
	health     = desc("health", "1 for the container's current health, 0 for the others; only containers with a healthcheck.", "health")
)

// Exporter is a prometheus.Collector of the containers' series; register
// it on the server's registry.
type Exporter struct {
	src    Source
	events *prometheus.CounterVec
}

// New builds an exporter reading src.
func New(src Source) *Exporter {
	return &Exporter{src: src, events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crowsnest_container_events_total",
		Help: "Container events seen, by engine and action (health_status and exec actions without their detail).",
	}, []string{"host", "action"})}
}

// ObserveEvent counts a container event; the server passes every one it
// stores.
func (e *Exporter) ObserveEvent(ev wire.ContainerEvent) {
	if ev.Type != "" && ev.Type != "container" {
		return
	}
	// "health_status: healthy", "exec_start: sh -c …": the detail would
	// make the label set unbounded.
	action, _, _ := strings.Cut(ev.Action, ":")
	e.events.WithLabelValues(ev.Host, action).Inc()
}

// Describe sends every descriptor.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cpuSeconds, cpuCores, memUsage, memLimit, netRx, netTx, blkRead, blkWrite, restarts, state, health} {
		ch <- d
	}
	e.events.Describe(ch)
}

// Collect sends the series of the last sampling round.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	known, samples := e.src.Snapshot()
	// A name is unique on an engine, but the inventory may briefly hold a
	// removed container beside its namesake, and a repeated label set
	// fails the whole scrape: the first sampled one wins, then the first.
	seen := map[[2]string]bool{}
	for _, smp := range samples {
		k := [2]string{smp.Host, smp.Name}
		if seen[k] {
			continue
		}
		seen[k] = true
		lv := labelValues(smp.Container)
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
		}
		counter(cpuSeconds, float64(smp.Reading.CPU)/1e9)
		gauge(cpuCores, smp.Usage.CPUPercent/100)
		gauge(memUsage, float64(smp.Usage.MemoryBytes))
		gauge(memLimit, float64(smp.Usage.MemoryLimit))
		counter(netRx, float64(smp.Reading.NetRx))
		counter(netTx, float64(smp.Reading.NetTx))
		counter(blkRead, float64(smp.Reading.BlockRead))
		counter(blkWrite, float64(smp.Reading.BlockWrite))
		counter(restarts, float64(smp.Restarts))
	}
	named := map[[2]string]bool{}
	for _, ct := range known {
		k := [2]string{ct.Host, ct.Name}
		if named[k] || (seen[k] && ct.State != "running") {
			continue
		}
		named[k] = true
		lv := labelValues(ct)
		enum(ch, state, lv, States, ct.State)
		if ct.Health != "" {
			enum(ch, health, lv, Healths, ct.Health)
		}
	}
	e.events.Collect(ch)
}

// enum sends one series per value, 1 for the current one.
func enum(ch chan<- prometheus.Metric, d *prometheus.Desc, lv, values []string, current string) {
	for _, v := range values {
		x := 0.0
		if v == current {
			x = 1
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, x, slices.Concat(lv, []string{v})...)
	}
}

func labelValues(ct stats.Container) []string {
	return []string{ct.Host, ct.Name, ct.Image,
		ct.Labels["com.docker.compose.project"], ct.Labels["com.docker.compose.service"]}
}
