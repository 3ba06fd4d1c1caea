package alerts

import (
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Presets are the ready-made rules the UI and API offer. Each is a valid
// rule once given targets; the user may narrow it with filters and, for
// the log and stats presets, set the pattern or level.
func Presets() []wire.AlertPreset {
	d := func(v time.Duration) wire.Duration { return wire.Duration(v) }
	return []wire.AlertPreset{
		{ID: "crash", Title: "Crash", Description: "A container exits with a non-zero code that no docker stop or kill asked for.",
			Rule: wire.AlertRule{Name: "crash", Enabled: true, Kind: wire.AlertKindEvent,
				Filters: []byte(`{"event":["die"]}`), When: `exitCode != 0 && !stopped`, Cooldown: d(time.Minute)}},
		{ID: "oom", Title: "Out of memory", Description: "The kernel's OOM killer kills a process of a container.",
			Rule: wire.AlertRule{Name: "oom", Enabled: true, Kind: wire.AlertKindEvent,
				Filters: []byte(`{"event":["oom"]}`), When: `action == "oom"`, Cooldown: d(time.Minute)}},
		{ID: "restart-loop", Title: "Restart loop", Description: "A container dies 3 times within 5 minutes.",
			Rule: wire.AlertRule{Name: "restart loop", Enabled: true, Kind: wire.AlertKindEvent,
				Filters: []byte(`{"event":["die"]}`), When: `!stopped`, Count: 3, Within: d(5 * time.Minute), Cooldown: d(15 * time.Minute)}},
		{ID: "unhealthy", Title: "Unhealthy", Description: "A container's health check reports unhealthy for 1 minute.",
			Rule: wire.AlertRule{Name: "unhealthy", Enabled: true, Kind: wire.AlertKindEvent,
				When: `health == "unhealthy"`, For: d(time.Minute), Cooldown: d(15 * time.Minute)}},
		{ID: "log-pattern", Title: "Log line", Description: "A container logs a line matching a pattern (a regular expression).",
			Rule: wire.AlertRule{Name: "log errors", Enabled: true, Kind: wire.AlertKindLog,
				When: `line matches "(?i)\\b(error|panic|fatal)\\b"`, Cooldown: d(5 * time.Minute)}},
		{ID: "cpu", Title: "High CPU", Description: "A container uses more than 90 % of a core for 5 minutes.",
			Rule: wire.AlertRule{Name: "high cpu", Enabled: true, Kind: wire.AlertKindStats,
				When: `cpu > 90`, For: d(5 * time.Minute), Cooldown: d(30 * time.Minute)}},
		{ID: "memory", Title: "High memory", Description: "A container uses more than 90 % of its memory limit for 5 minutes.",
			Rule: wire.AlertRule{Name: "high memory", Enabled: true, Kind: wire.AlertKindStats,
				When: `memory > 90`, For: d(5 * time.Minute), Cooldown: d(30 * time.Minute)}},
	}
}
