package stacks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"

	"github.com/crowsnest-hq/crowsnest/internal/body"
)

// File names in a stack's working directory: the ones the compose CLI looks
// for by default, so a user can cd there and run `docker compose` too.
const (
	composeFile = "compose.yaml"
	envFile     = ".env"
)

// maxNameLen keeps names usable as directory and container name prefixes.
const maxNameLen = 63

// projectName is what compose accepts as a project name once normalised;
// crowsnest refuses names that would need normalising, so the stack's name
// and its project's name are always the same string.
var projectName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// ErrInvalid marks input a client must fix: a bad name, YAML that does not
// parse, a compose file the loader refuses. Its text is the loader's own.
var ErrInvalid = errors.New("invalid stack")

// ErrTooLarge marks a compose or env text over body.MaxSize.
var ErrTooLarge = errors.New("stack file too large")

// invalid wraps a client mistake so errors.Is(err, ErrInvalid) holds while
// the message stays the loader's.
type invalidError struct{ err error }

func (e invalidError) Error() string { return e.err.Error() }
func (e invalidError) Unwrap() []error {
	return []error{ErrInvalid, e.err}
}

func invalid(format string, args ...any) error {
	return invalidError{fmt.Errorf(format, args...)}
}

// ValidName checks that name can be a compose project name as is.
func ValidName(name string) error {
	if len(name) > maxNameLen || !projectName.MatchString(name) {
		return invalid("name %q: a stack name is a compose project name: lowercase letters, digits, '_' and '-', starting with a letter or digit, at most %d characters", name, maxNameLen)
	}
	return nil
}

// checkSize refuses texts the API would not accept as a body either.
func checkSize(compose, env string) error {
	if len(compose) > body.MaxSize {
		return fmt.Errorf("%w: compose file of %d bytes, limit %d", ErrTooLarge, len(compose), body.MaxSize)
	}
	if len(env) > body.MaxSize {
		return fmt.Errorf("%w: env file of %d bytes, limit %d", ErrTooLarge, len(env), body.MaxSize)
	}
	return nil
}

// checkYAML runs the text through the bounded YAML decoder before compose
// sees it: compose-go has no limit on alias expansion, so a "billion laughs"
// file is refused here with a clear message instead of eating the server.
func checkYAML(compose string) error {
	if strings.TrimSpace(compose) == "" {
		return invalid("compose file is empty")
	}
	var doc any
	if err := body.Decode(body.YAML, []byte(compose), &doc); err != nil {
		return invalid("compose file: %w", err)
	}
	if _, ok := doc.(map[string]any); !ok {
		return invalid("compose file: top level must be a mapping")
	}
	return nil
}

// writeFiles writes the compose and env texts into dir, creating it. An
// empty env removes any old .env, so interpolation matches what was sent.
func writeFiles(dir, compose, env string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("stack directory: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, composeFile), compose); err != nil {
		return err
	}
	envPath := filepath.Join(dir, envFile)
	if env == "" {
		if err := os.Remove(envPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", envPath, err)
		}
		return nil
	}
	return writeFileAtomic(envPath, env)
}

// writeFileAtomic replaces path with data through a rename, so a crash
// leaves the old file or the new one, never half of one.
func writeFileAtomic(path, data string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o640); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}

// stagingDir makes a fresh directory beside the stacks' directories, so a
// candidate compose file is validated with its own .env and relative paths
// before anything replaces the stack's files.
func stagingDir(root string) (string, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return "", fmt.Errorf("stacks directory: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	// A leading '.' cannot start a stack name, so this never clashes.
	dir := filepath.Join(root, ".staging-"+hex.EncodeToString(b))
	if err := os.Mkdir(dir, 0o750); err != nil {
		return "", fmt.Errorf("staging directory: %w", err)
	}
	return dir, nil
}

// loadProject loads the stack in dir as `docker compose -p name` run in dir
// would: compose.yaml, .env for interpolation and env_file, paths relative
// to dir. Unlike the CLI it does not read crowsnest's own environment, so
// the server's secrets can never be interpolated into a stack, and unless
// hostPaths it reads no file outside dir (see checkReferences). Every
// service gets the labels the CLI sets, so `docker compose ls/ps` and
// crowsnest recognise the containers. A loader error is ErrInvalid with the
// loader's words (see loadError).
func loadProject(ctx context.Context, dir, name string, hostPaths bool) (*types.Project, error) {
	env, err := os.ReadFile(filepath.Join(dir, envFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading the env file: %w", err)
	}
	if err := checkDotEnv(string(env)); err != nil {
		return nil, err
	}
	opts, err := projectOptions(dir, name)
	if err != nil {
		return nil, invalid("%w", err)
	}
	if err := checkReferences(ctx, dir, name, opts, hostPaths); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("loading compose file: %w", err)
		}
		return nil, loadError(dir, err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("loading compose file: %w", err)
		}
		return nil, loadError(dir, err)
	}
	for svcName, s := range p.Services {
		s.CustomLabels = map[string]string{
			api.ProjectLabel:     p.Name,
			api.ServiceLabel:     svcName,
			api.VersionLabel:     composeVersion(),
			api.WorkingDirLabel:  p.WorkingDir,
			api.ConfigFilesLabel: strings.Join(p.ComposeFiles, ","),
			api.OneoffLabel:      "False",
		}
		if len(opts.EnvFiles) > 0 {
			s.CustomLabels[api.EnvironmentFileLabel] = strings.Join(opts.EnvFiles, ",")
		}
		p.Services[svcName] = s
	}
	return p, nil
}

// projectOptions are the options of loading the stack in dir.
func projectOptions(dir, name string) (*cli.ProjectOptions, error) {
	return cli.NewProjectOptions(
		[]string{filepath.Join(dir, composeFile)},
		cli.WithWorkingDirectory(dir),
		cli.WithName(name),
		cli.WithEnvFiles(),
		cli.WithDotEnv,
	)
}

// composeVersion is the compose library's version for the version label.
// api.ComposeVersion is only set by the CLI's release build (ldflags), so
// the module version this binary was built with stands in for it.
var composeVersion = sync.OnceValue(func() string {
	if api.ComposeVersion != "" {
		return api.ComposeVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/docker/compose/v5" {
				return strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	return "5"
})
