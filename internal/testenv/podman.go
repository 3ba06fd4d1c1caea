package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// PodmanEngine is a rootful Podman API service ("podman system service")
// on a private socket, with storage of its own in a temporary directory: a
// second engine, beside the shared Docker one, that speaks Docker's API.
// One runs per test binary, started by the first test that asks for it and
// stopped by Main once every test has run.
type PodmanEngine struct {
	dir     string
	socket  string
	cmd     *exec.Cmd
	done    chan struct{} // closed once cmd has been waited for
	cli     *client.Client
	version string
}

// podmanStartTimeout bounds waiting for a fresh service to answer: it sets
// up its storage first, which takes a few seconds on a loaded machine.
const podmanStartTimeout = 60 * time.Second

// podman is this process's service, or why there can be none.
var podman struct {
	mu  sync.Mutex
	eng *PodmanEngine
	err error
}

// Podman returns this test binary's Podman service, starting it on first
// use. Without podman (Debian's package; make test-tools installs it), or
// not as root (the service is rootful, as the cgroup stats source needs),
// the test is skipped with one line saying why; with CI=true it fails. The
// package must run its tests through Main, which stops the service.
func Podman(tb testing.TB) *PodmanEngine {
	tb.Helper()
	podman.mu.Lock()
	defer podman.mu.Unlock()
	if podman.eng == nil && podman.err == nil {
		podman.eng, podman.err = startPodman()
	}
	if podman.err != nil {
		Unavailable(tb, "no Podman engine: %v", podman.err)
		return nil
	}
	return podman.eng
}

// Main runs a package's tests and then stops what testenv started for the
// whole test binary (the Podman service). A package whose tests call
// Podman runs them through it:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	podman.mu.Lock()
	defer podman.mu.Unlock()
	if podman.eng != nil {
		if err := podman.eng.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stopping the Podman service: %v\n", err)
			if code == 0 && os.Getenv("CI") == "true" {
				code = 1
			}
		}
		podman.eng = nil
	}
	return code
}

// URL is the service's address in the --host form.
func (p *PodmanEngine) URL() string { return "unix://" + p.socket }

// Client is a client of the service, shared by the tests of the binary:
// do not close it.
func (p *PodmanEngine) Client() *client.Client { return p.cli }

// Version is Podman's version, as its /version names the "Podman Engine"
// component.
func (p *PodmanEngine) Version() string { return p.version }

// HelperImage makes sure the service holds the helper image, loaded through
// Podman's Docker-compatible image load (no registry), and returns the
// reference Podman names it by: it files an image without a registry under
// "localhost/", and reports that name in events and listings.
func (p *PodmanEngine) HelperImage(tb testing.TB) string {
	tb.Helper()
	return "localhost/" + helperImageOn(tb, p.cli)
}

// Command is the podman command line tool working on the service's own
// storage, events log and configuration, for checking what crowsnest
// reports against what Podman itself says (the "Podman oracle").
func (p *PodmanEngine) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "podman", append(p.globalArgs(), args...)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.path("containers.conf"))
	return cmd
}

// Output runs Command and returns its standard output, failing the test
// when podman fails.
func (p *PodmanEngine) Output(tb testing.TB, args ...string) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := p.Command(ctx, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// EventsLog is the file Podman records its events in.
func (p *PodmanEngine) EventsLog() string { return p.path("events.log") }

// StopService stops the service as an administrator would (SIGTERM):
// containers keep running, each under its own conmon, and whatever happens
// to them still goes to the events log, as on a real host. StartService
// brings it back on the same storage (the end of the test does, if not).
func (p *PodmanEngine) StopService(tb testing.TB) {
	tb.Helper()
	podman.mu.Lock()
	defer podman.mu.Unlock()
	if err := p.terminate(); err != nil {
		tb.Fatalf("stopping the Podman service: %v", err)
	}
	tb.Cleanup(func() {
		podman.mu.Lock()
		defer podman.mu.Unlock()
		if p.cmd != nil {
			return
		}
		// A test that failed half way: the next ones need the service.
		p.done = make(chan struct{})
		if err := p.start(); err != nil {
			tb.Errorf("starting the Podman service again: %v", err)
		}
	})
}

// StartService starts the service again after StopService.
func (p *PodmanEngine) StartService(tb testing.TB) {
	tb.Helper()
	podman.mu.Lock()
	defer podman.mu.Unlock()
	p.done = make(chan struct{})
	if err := p.start(); err != nil {
		tb.Fatalf("starting the Podman service again: %v", err)
	}
}

// String names the engine in messages.
func (p *PodmanEngine) String() string {
	return fmt.Sprintf("Podman %s at %s", p.version, p.URL())
}

func (p *PodmanEngine) path(name string) string { return filepath.Join(p.dir, name) }

// globalArgs point podman at the private storage and state.
func (p *PodmanEngine) globalArgs() []string {
	return []string{"--root", p.path("root"), "--runroot", p.path("run"), "--tmpdir", p.path("tmp")}
}

// startPodman writes the configuration, starts the service and waits until
// it answers.
func startPodman() (*PodmanEngine, error) {
	if _, err := exec.LookPath("podman"); err != nil {
		return nil, fmt.Errorf("podman not installed (apt-get install podman; make test-tools does): %w", err)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the test Podman service runs rootful and needs root")
	}
	// A short path: a unix socket's must stay under ~108 bytes.
	dir, err := os.MkdirTemp("", "cn-podman-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	p := &PodmanEngine{dir: dir, socket: filepath.Join(dir, "podman.sock"), done: make(chan struct{})}
	conf, err := podmanConfig(p.path("events.log"), p.path("networks"))
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	if err := os.WriteFile(p.path("containers.conf"), []byte(conf), 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("writing containers.conf: %w", err), os.RemoveAll(dir))
	}
	if err := p.start(); err != nil {
		return nil, errors.Join(err, p.stop())
	}
	return p, nil
}

// podmanConfig is the service's containers.conf. runc refuses Podman's
// default rlimits where they exceed the machine's hard limits ("error
// setting rlimit type 7: operation not permitted"), so containers get the
// hard limits of this process instead. The events go to a file of the
// service's own, which the podman tool (Command) reads too, and the
// networks a test creates (a stack's) are configured in a directory of its
// own, so none outlives the run.
func podmanConfig(eventsLog, networks string) (string, error) {
	var nofile, nproc syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile); err != nil {
		return "", fmt.Errorf("reading the open files limit: %w", err)
	}
	const rlimitNproc = 6 // RLIMIT_NPROC, which package syscall does not name
	if err := syscall.Getrlimit(rlimitNproc, &nproc); err != nil {
		return "", fmt.Errorf("reading the process limit: %w", err)
	}
	procs := min(nproc.Max, 4096)
	return fmt.Sprintf(`[containers]
default_ulimits = ["nofile=%[1]d:%[1]d", "nproc=%[2]d:%[2]d"]

[engine]
events_logger = "file"
events_logfile_path = %[3]q

[network]
network_config_dir = %[4]q
`, nofile.Max, procs, eventsLog, networks), nil
}

// start runs the service and waits until it answers.
func (p *PodmanEngine) start() error {
	args := append(p.globalArgs(), "system", "service", "--time=0", p.URL())
	cmd := exec.Command("podman", args...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.path("containers.conf"))
	log, err := os.Create(p.path("service.log"))
	if err != nil {
		return fmt.Errorf("service log: %w", err)
	}
	defer func() { _ = log.Close() }() // the child holds its own descriptor
	cmd.Stdout, cmd.Stderr = log, log
	// Should the test binary die without running Main's cleanup, the
	// service goes with it rather than outliving the run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting podman system service: %w", err)
	}
	p.cmd = cmd
	go func() {
		_ = cmd.Wait() // its exit is judged by whether it answered
		close(p.done)
	}()
	cli := p.cli
	if cli == nil {
		c, err := client.New(client.WithHost(p.URL()))
		if err != nil {
			return fmt.Errorf("client for %s: %w", p.URL(), err)
		}
		cli, p.cli = c, c
	}
	deadline := time.Now().Add(podmanStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
		cancel()
		if err == nil {
			break
		}
		select {
		case <-p.done:
			return fmt.Errorf("podman system service exited at start: %s", p.serviceLog())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("podman system service did not answer within %v: %v: %s", podmanStartTimeout, err, p.serviceLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Podman answers /version slowly (it runs its runtimes and the
	// package manager to fill it in), the more so on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), podmanStartTimeout)
	defer cancel()
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return fmt.Errorf("podman version: %w", err)
	}
	for _, c := range v.Components {
		if c.Name == "Podman Engine" {
			p.version = c.Version
		}
	}
	if p.version == "" {
		return fmt.Errorf("%s answers, but not as Podman: components %+v", p.URL(), v.Components)
	}
	return nil
}

// serviceLog is what the service printed, for failures.
func (p *PodmanEngine) serviceLog() string {
	b, err := os.ReadFile(p.path("service.log"))
	if err != nil {
		return fmt.Sprintf("(no service log: %v)", err)
	}
	return strings.TrimSpace(string(b))
}

// stop removes every container left in the private storage (each test
// removes its own; a failed one may not have), ends the service, and
// removes its directory.
func (p *PodmanEngine) stop() error {
	var errs []error
	if p.cli != nil {
		errs = append(errs, p.removeContainers())
		errs = append(errs, p.cli.Close())
	}
	errs = append(errs, p.terminate())
	if err := unmountUnder(p.dir); err != nil {
		errs = append(errs, err)
	} else if err := os.RemoveAll(p.dir); err != nil {
		errs = append(errs, fmt.Errorf("removing %s: %w", p.dir, err))
	}
	return errors.Join(errs...)
}

// unmountUnder unmounts what is mounted below dir, deepest first: Podman's
// overlay driver mounts its own directory over itself and leaves it so.
func unmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("reading the mount table: %w", err)
	}
	var points []string
	for line := range strings.Lines(string(data)) {
		// "id parent major:minor root mountpoint …"; the kernel escapes
		// blanks, which a temporary directory's path does not hold.
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, m := range points {
		if err := syscall.Unmount(m, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// terminate ends the service process and waits for it.
func (p *PodmanEngine) terminate() error {
	if p.cmd == nil {
		return nil
	}
	var err error
	if serr := p.cmd.Process.Signal(syscall.SIGTERM); serr != nil && !errors.Is(serr, os.ErrProcessDone) {
		err = fmt.Errorf("signalling the service: %w", serr)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill() // already failed to stop in time
		<-p.done
	}
	p.cmd = nil
	return err
}

// removeContainers force-removes every container of the service.
func (p *PodmanEngine) removeContainers() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	list, err := p.cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return fmt.Errorf("listing leftover containers: %w", err)
	}
	var errs []error
	for _, c := range list.Items {
		if _, err := p.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("removing leftover container %.12s: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}
