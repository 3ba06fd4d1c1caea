package stacks

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/client"
)

// newDockerCli wraps an engine's existing client in the docker CLI object
// the compose library is built on, so compose talks to the very engine
// crowsnest watches (any --host, TLS included) instead of resolving
// DOCKER_HOST or a CLI context itself. Output the library would print for a
// terminal is discarded: progress comes through the event processor.
func newDockerCli(c client.APIClient) (*command.DockerCli, error) {
	dc, err := command.NewDockerCli(
		command.WithAPIClient(c),
		command.WithOutputStream(io.Discard),
		command.WithErrorStream(io.Discard),
	)
	if err != nil {
		return nil, fmt.Errorf("docker cli: %w", err)
	}
	if err := dc.Initialize(flags.NewClientOptions()); err != nil {
		return nil, fmt.Errorf("docker cli: initialize: %w", err)
	}
	return dc, nil
}

// newService is a compose service reporting to p. It never says yes to a
// question compose would ask a user (recreate a volume whose config
// changed, and the like): losing data takes a human at a terminal.
func newService(dc command.Cli, p api.EventProcessor, log *slog.Logger) (api.Compose, error) {
	svc, err := compose.NewComposeService(dc,
		compose.WithEventProcessor(p),
		compose.WithPrompt(func(message string, _ bool) (bool, error) {
			log.Warn("compose asked a question; answering no", "question", message)
			return false, nil
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("compose service: %w", err)
	}
	return svc, nil
}
