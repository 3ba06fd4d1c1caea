package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sshdPath is where Debian's openssh-server puts the daemon.
const sshdPath = "/usr/sbin/sshd"

// SSHServer is a private OpenSSH daemon on 127.0.0.1, run as a child of
// the test, that lets the current user in with a key of its own and whose
// sessions reach the test engine: an ssh:// engine for tests. Kill and
// Start take it away and bring it back on the same port.
type SSHServer struct {
	tb       testing.TB
	dir      string
	config   string
	port     int
	user     string
	identity string
	known    string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	logs *bytes.Buffer // sshd's own log, shown when the test fails
}

// SSHD starts sshd on a free 127.0.0.1 port with a generated host key and
// an authorized ed25519 key, both in a fresh temporary directory; its
// sessions see DOCKER_HOST pointing at the test engine, so
// "docker system dial-stdio" there reaches the same engine as Engine.
// Without sshd (Debian's openssh-server), ssh-keygen or the docker CLI the
// test is skipped with one line, or fails under CI=true. sshd is stopped
// when the test ends.
func SSHD(tb testing.TB) *SSHServer {
	tb.Helper()
	for _, bin := range []string{sshdPath, "ssh", "ssh-keygen", "docker"} {
		if _, err := exec.LookPath(bin); err != nil {
			Unavailable(tb, "ssh engine: %s not found (apt-get install openssh-server openssh-client; docker CLI): %v", bin, err)
			return nil
		}
	}
	engine := Engine(tb)
	me, err := user.Current()
	if err != nil {
		tb.Fatalf("sshd: current user: %v", err)
	}
	if os.Geteuid() == 0 {
		// Run as root, sshd chroots its pre-auth child into this directory,
		// which Debian creates only from its service unit.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			tb.Fatalf("sshd: privilege separation directory: %v", err)
		}
	}
	// Short and free of blanks: sshd_config and ssh option values are
	// split at blanks, and tb.TempDir embeds the test name.
	dir, err := os.MkdirTemp("", "cn-sshd-")
	if err != nil {
		tb.Fatalf("sshd: temp dir: %v", err)
	}
	tb.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("sshd: removing %s: %v", dir, err)
		}
	})
	s := &SSHServer{
		tb:       tb,
		dir:      dir,
		config:   filepath.Join(dir, "sshd_config"),
		port:     freePort(tb),
		user:     me.Username,
		identity: filepath.Join(dir, "id_ed25519"),
		known:    filepath.Join(dir, "known_hosts"),
	}
	hostKey := filepath.Join(dir, "host_ed25519")
	for _, key := range []string{hostKey, s.identity} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "crowsnest-test", "-f", key).CombinedOutput()
		if err != nil {
			tb.Fatalf("sshd: ssh-keygen %s: %v: %s", key, err, out)
		}
	}
	copyFile(tb, s.identity+".pub", filepath.Join(dir, "authorized_keys"))
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		tb.Fatalf("sshd: %v", err)
	}
	// A pinned host key, so the test runs with strict checking on.
	known := fmt.Sprintf("[127.0.0.1]:%d %s", s.port, hostPub)
	writeFile(tb, s.known, known)
	config := strings.Join([]string{
		"Port " + strconv.Itoa(s.port),
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"AllowUsers " + s.user,
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"StrictModes no", // the temp dir's modes are not sshd's business
		"UsePAM no",
		"PrintMotd no",
		"LogLevel VERBOSE",
		"SetEnv DOCKER_HOST=" + engine.DaemonHost(),
		"",
	}, "\n")
	writeFile(tb, s.config, config)
	s.Start()
	tb.Cleanup(s.Kill)
	return s
}

// URL is the engine's ssh:// address in the --host form, with the key and
// the pinned host key as query options.
func (s *SSHServer) URL() string {
	q := url.Values{}
	q.Set("identity", s.identity)
	q.Set("known-hosts", s.known)
	q.Set("strict-host-key-checking", "yes")
	u := url.URL{Scheme: "ssh", User: url.User(s.user), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), RawQuery: q.Encode()}
	return u.String()
}

// Start runs sshd (again, on the same port) and waits until it accepts
// connections.
func (s *SSHServer) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.tb.Fatalf("sshd: already running")
	}
	// Re-exec needs an absolute path; -D keeps it a child we can stop, -e
	// sends its log to stderr, which we keep for failures.
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", s.config)
	s.logs = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	cmd.WaitDelay = 5 * time.Second // should a straggler hold the log pipe
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("sshd: starting: %v", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close() // only probing
			return
		}
		select {
		case <-done:
			s.cmd = nil
			s.tb.Fatalf("sshd exited at start (%v): %s", waitErr, s.logs)
		default:
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("sshd: not listening on %s after 10 s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops sshd and every session it started, as a crashed or rebooted
// host would: the sessions outlive the listener otherwise (each one is in
// its own session, out of sshd's process group), and their open
// connections would keep the engine reachable.
func (s *SSHServer) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	// Freeze first, top down, so nothing forks or gets reparented away
	// while the tree is collected; then kill it all.
	_ = syscall.Kill(pid, syscall.SIGSTOP) // it may have died already
	frozen := map[int]bool{pid: true}
	for {
		added := false
		for _, p := range descendants(pid) {
			if !frozen[p] {
				frozen[p] = true
				added = true
				_ = syscall.Kill(p, syscall.SIGSTOP) // may be gone already
			}
		}
		if !added {
			break
		}
	}
	for p := range frozen {
		_ = syscall.Kill(p, syscall.SIGKILL) // may be gone already
	}
	<-s.done
	s.cmd = nil
	if s.tb.Failed() {
		s.tb.Logf("sshd log:\n%s", s.logs)
	}
}

// String names the server in test logs.
func (s *SSHServer) String() string { return fmt.Sprintf("sshd on 127.0.0.1:%d", s.port) }

// descendants lists every process below pid, read from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid …"; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// freePort finds a 127.0.0.1 TCP port nobody listens on now.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		tb.Fatalf("free port: %v", err)
	}
	return port
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatalf("writing %s: %v", path, err)
	}
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		tb.Fatalf("reading %s: %v", from, err)
	}
	writeFile(tb, to, string(b))
}
