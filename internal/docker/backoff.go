package docker

import "time"

// Default retry bounds: quick enough to notice a restarted engine within
// seconds, slow enough not to hammer one that is down for long.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)
