// Package natstest runs real NATS servers with JetStream inside a test
// process, on loopback with temporary store directories: one server for
// most tests, a three-node cluster where replication is the point. Only
// tests import it.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds a server's start and a cluster's forming; generous,
// for a loaded machine.
const readyTimeout = 60 * time.Second

// Single starts one JetStream server, stopped when the test ends, and
// returns its client URL.
func Single(t testing.TB) string {
	t.Helper()
	return SingleOn(t, -1, t.TempDir()).ClientURL()
}

// SingleOn starts one JetStream server on port (-1: any) keeping its data
// in dir, so that a test can stop it and start it again where it was. It
// is stopped when the test ends.
func SingleOn(t testing.TB, port int, dir string) *server.Server {
	t.Helper()
	return start(t, &server.Options{
		ServerName: "single",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
	})
}

// FreePort is a loopback port free now, for a server a test starts later.
func FreePort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1)[0]
}

// Cluster is a JetStream cluster of servers on loopback.
type Cluster struct {
	Servers []*server.Server
}

// NewCluster starts n servers routed to each other and waits until
// JetStream has a meta leader that every server follows. The servers
// stop when the test ends.
func NewCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, n)
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &Cluster{}
	for i := range n {
		c.Servers = append(c.Servers, start(t, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "crowsnest-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
			NoLog:      true,
			NoSigs:     true,
		}))
	}
	deadline := time.Now().Add(readyTimeout)
	for !c.formed() {
		if time.Now().After(deadline) {
			t.Fatalf("natstest: the %d-node JetStream cluster did not form within %v", n, readyTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

// formed reports one meta leader and every running server current.
func (c *Cluster) formed() bool {
	leaders := 0
	for _, s := range c.Servers {
		if !s.Running() {
			continue
		}
		if !s.JetStreamIsCurrent() {
			return false
		}
		if s.JetStreamIsLeader() {
			leaders++
		}
	}
	return leaders == 1
}

// URLs are the client URLs of the servers still running, comma-separated
// as --store takes them.
func (c *Cluster) URLs() string {
	var out []string
	for _, s := range c.Servers {
		if s.Running() {
			out = append(out, s.ClientURL())
		}
	}
	return strings.Join(out, ",")
}

// Stop shuts server i down, as a crash of that node would.
func (c *Cluster) Stop(i int) {
	c.Servers[i].Shutdown()
	c.Servers[i].WaitForShutdown()
}

func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(readyTimeout) {
		t.Fatalf("natstest: server %s not ready within %v", opts.ServerName, readyTimeout)
	}
	return s
}

// freePorts finds n loopback ports free now, for the cluster routes, which
// every server must know before any starts.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close() // the servers take the ports next
	}
	return ports
}
