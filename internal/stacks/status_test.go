package stacks

import (
	"testing"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func ctr(svc string, state container.ContainerState) container.Summary {
	return container.Summary{State: state, Labels: map[string]string{api.ServiceLabel: svc}}
}

func TestDeriveState(t *testing.T) {
	declared := []string{"db", "web"}
	cases := []struct {
		name string
		ctrs []container.Summary
		want string
	}{
		{"none", nil, wire.StackCreated},
		{"all", []container.Summary{ctr("db", "running"), ctr("web", "running")}, wire.StackRunning},
		{"one", []container.Summary{ctr("db", "running"), ctr("web", "exited")}, wire.StackPartial},
		{"missing service", []container.Summary{ctr("db", "running")}, wire.StackPartial},
		{"stopped", []container.Summary{ctr("db", "exited"), ctr("web", "exited")}, wire.StackStopped},
		{"leftover does not count", []container.Summary{ctr("db", "running"), ctr("web", "running"), ctr("old", "exited")}, wire.StackRunning},
	}
	for _, c := range cases {
		if got := deriveState(declared, c.ctrs); got.Status != c.want {
			t.Errorf("%s: %s, want %s (%+v)", c.name, got.Status, c.want, got.Services)
		}
	}
	// Replicas: the least healthy container's state is shown.
	st := deriveState([]string{"web"}, []container.Summary{ctr("web", "running"), ctr("web", "exited")})
	if s := st.Services[0]; s.State != "exited" || s.Containers != 2 || s.Running != 1 || st.Status != wire.StackRunning {
		t.Errorf("replicas: %+v, %s", s, st.Status)
	}
}
