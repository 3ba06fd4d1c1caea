package docker

import (
	"errors"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestGapReason(t *testing.T) {
	const last = 1000
	full := engineMemory
	for name, tc := range map[string]struct {
		kind  string
		r     ring
		last  int64
		cause error
		want  string
	}{
		"nothing stored yet":               {r: ring{size: 3, oldest: 2000}, last: 0, want: ""},
		"memory reaches back to the last":  {r: ring{size: full, oldest: 900}, last: last, want: ""},
		"memory starts at the last event":  {r: ring{size: 10, oldest: last}, last: last, want: ""},
		"engine forgot it without filling": {r: ring{size: 10, oldest: 2000}, last: last, want: wire.GapEngineRestart},
		"restarted engine, empty memory":   {r: ring{}, last: last, want: wire.GapEngineRestart},
		"memory overflowed while cut off":  {r: ring{size: full, oldest: 2000}, last: last, cause: errors.New("event stream: EOF"), want: wire.GapOutage},
		"memory overflowed while behind":   {r: ring{size: full, oldest: 2000}, last: last, cause: errOverflow, want: wire.GapOverflow},
		"podman log holds the last":        {kind: wire.EnginePodman, r: ring{size: 2, oldest: 900}, last: last, want: ""},
		"podman log after a restart":       {kind: wire.EnginePodman, r: ring{size: 10, oldest: last}, last: last, cause: errors.New("event stream: EOF"), want: ""},
		"podman log lost the last":         {kind: wire.EnginePodman, r: ring{size: 10, oldest: 2000}, last: last, want: wire.GapEventLog},
		"podman log emptied":               {kind: wire.EnginePodman, r: ring{}, last: last, want: wire.GapEventLog},
	} {
		t.Run(name, func(t *testing.T) {
			if got := gapReason(tc.kind, tc.r, tc.last, tc.cause); got != tc.want {
				t.Errorf("gapReason = %q, want %q", got, tc.want)
			}
		})
	}
}
