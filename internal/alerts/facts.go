package alerts

import (
	"strconv"
	"strings"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// EventFacts are what the "when" expression of an event rule can read.
type EventFacts struct {
	// Action is the container action without its detail: "die", "oom",
	// "health_status", "start"…
	Action string `expr:"action"`
	// ExitCode is the exit code a "die" event carries, 0 otherwise.
	ExitCode int `expr:"exitCode"`
	// Stopped is true on a "die" that followed a kill or stop through the
	// API (docker stop, docker kill, docker restart, compose down), so an
	// asked-for stop is not taken for a crash.
	Stopped bool `expr:"stopped"`
	// OOMKilled is true on a "die" that followed an "oom" event since the
	// container last started.
	OOMKilled bool `expr:"oomKilled"`
	// Health is the container's latest health status ("starting",
	// "healthy", "unhealthy"), empty when it has no health check or is not
	// running.
	Health string `expr:"health"`
	Name   string `expr:"name"`
	Image  string `expr:"image"`
	// Labels are the container's labels.
	Labels map[string]string `expr:"labels"`
}

// LogFacts are what the "when" expression of a log rule can read.
type LogFacts struct {
	// Line is the log line without its ending.
	Line string `expr:"line"`
	// Stream is "stdout" or "stderr".
	Stream string            `expr:"stream"`
	Name   string            `expr:"name"`
	Image  string            `expr:"image"`
	Labels map[string]string `expr:"labels"`
}

// StatsFacts are what the "when" expression of a stats rule can read.
type StatsFacts struct {
	// CPU is the CPU usage in percent, one full core counting 100.
	CPU float64 `expr:"cpu"`
	// Memory is the memory usage in percent of the limit.
	Memory float64 `expr:"memory"`
	// MemoryBytes is the memory usage in bytes, page cache excluded.
	MemoryBytes float64           `expr:"memoryBytes"`
	Name        string            `expr:"name"`
	Image       string            `expr:"image"`
	Labels      map[string]string `expr:"labels"`
}

// The facts reach expressions as a map rather than a struct: expr reads a
// struct's fields through reflection, boxing every value on every read,
// while a map built once per event is shared by all the rules.

// fill writes the facts into env.
func (f *EventFacts) fill(env map[string]any) {
	env["action"], env["exitCode"], env["stopped"], env["oomKilled"] = f.Action, f.ExitCode, f.Stopped, f.OOMKilled
	env["health"], env["name"], env["image"], env["labels"] = f.Health, f.Name, f.Image, f.Labels
}

func (f *LogFacts) fill(env map[string]any) {
	env["line"], env["stream"], env["name"], env["image"], env["labels"] = f.Line, f.Stream, f.Name, f.Image, f.Labels
}

func (f *StatsFacts) fill(env map[string]any) {
	env["cpu"], env["memory"], env["memoryBytes"] = f.CPU, f.Memory, f.MemoryBytes
	env["name"], env["image"], env["labels"] = f.Name, f.Image, f.Labels
}

// factsEnv is the environment a kind's expressions are checked against:
// the names and types of its facts.
func factsEnv(kind string) map[string]any {
	env := make(map[string]any)
	empty := map[string]string{}
	switch kind {
	case wire.AlertKindLog:
		(&LogFacts{Labels: empty}).fill(env)
	case wire.AlertKindStats:
		(&StatsFacts{Labels: empty}).fill(env)
	default:
		(&EventFacts{Labels: empty}).fill(env)
	}
	return env
}

// notLabels are the attributes of a container event that the engine adds
// beside the container's labels.
var notLabels = map[string]bool{"image": true, "name": true, "exitCode": true, "signal": true, "execID": true}

// eventLabels returns the container labels among an event's attributes.
func eventLabels(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if !notLabels[k] {
			out[k] = v
		}
	}
	return out
}

// bareAction is an action without its ": detail" ("health_status: healthy"
// gives "health_status" and "healthy").
func bareAction(ev wire.ContainerEvent) (action, detail string) {
	a := ev.Action
	if a == "" {
		a = ev.Status // events from before API 1.22
	}
	action, detail, _ = strings.Cut(a, ": ")
	return action, detail
}

// exitCode reads the exitCode attribute of a "die" event.
func exitCode(ev wire.ContainerEvent) int {
	n, err := strconv.Atoi(ev.Actor.Attributes["exitCode"])
	if err != nil {
		return 0 // absent on every action but die
	}
	return n
}
