package docker

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/moby/moby/client"
)

// DefaultHostName names the engine crowsnest watches when no host is
// configured: the one DOCKER_HOST (or the default socket) points at.
const DefaultHostName = "Localhost"

// ErrSSHUnsupported is returned for ssh:// hosts: an SSH connection helper
// is not among this build's dependencies.
var ErrSSHUnsupported = errors.New("ssh hosts are not supported in this build")

// Default ports, as the docker CLI assumes them.
const (
	defaultTCPPort = "2375"
	defaultTLSPort = "2376"
)

// HostConfig is one engine to watch. An empty URL means DOCKER_HOST or the
// default socket, with DOCKER_CERT_PATH/DOCKER_TLS_VERIFY honoured. The TLS
// files are PEM paths; giving any of them turns TLS on for tcp:// URLs.
type HostConfig struct {
	Name    string
	URL     string
	TLSCA   string
	TLSCert string
	TLSKey  string
}

// DefaultHost is the host used when none is configured.
func DefaultHost() HostConfig { return HostConfig{Name: DefaultHostName} }

// hostName keeps names usable as a tag value ("host:<name>") and in URLs.
var hostName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseHost parses the --host flag form "NAME=URL", where URL is
// unix:///path, tcp://host[:port], tcp+tls://host[:port] or
// https://host[:port]. TLS files are set on the result by the caller.
func ParseHost(s string) (HostConfig, error) {
	name, raw, ok := strings.Cut(s, "=")
	if !ok {
		return HostConfig{}, fmt.Errorf("host %q: want NAME=URL", s)
	}
	h := HostConfig{Name: name, URL: raw}
	if err := h.validate(); err != nil {
		return HostConfig{}, err
	}
	return h, nil
}

// validate checks the name and URL without connecting.
func (h HostConfig) validate() error {
	if !hostName.MatchString(h.Name) {
		return fmt.Errorf("host name %q: use letters, digits, '.', '_' and '-'", h.Name)
	}
	if h.URL == "" {
		return nil
	}
	_, _, err := h.endpoint()
	return err
}

// endpoint returns the address in the form the client takes
// ("unix:///…", "tcp://host:port") and whether the connection uses TLS.
func (h HostConfig) endpoint() (host string, useTLS bool, err error) {
	u, err := url.Parse(h.URL)
	if err != nil {
		return "", false, fmt.Errorf("host %s: URL %q: %w", h.Name, h.URL, err)
	}
	tlsFiles := h.TLSCA != "" || h.TLSCert != "" || h.TLSKey != ""
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			return "", false, fmt.Errorf("host %s: URL %q has no socket path", h.Name, h.URL)
		}
		return "unix://" + u.Path, false, nil
	case "tcp", "http":
		addr, err := hostPort(h, u, defaultTCPPort)
		return "tcp://" + addr, tlsFiles, err
	case "tcp+tls", "https":
		addr, err := hostPort(h, u, defaultTLSPort)
		return "tcp://" + addr, true, err
	case "ssh":
		return "", false, fmt.Errorf("host %s: %w", h.Name, ErrSSHUnsupported)
	default:
		return "", false, fmt.Errorf("host %s: URL %q: unsupported scheme %q (want unix, tcp, tcp+tls or https)", h.Name, h.URL, u.Scheme)
	}
}

// hostPort returns u's host:port, adding the scheme's default port.
func hostPort(h HostConfig, u *url.URL, port string) (string, error) {
	if u.Hostname() == "" {
		return "", fmt.Errorf("host %s: URL %q has no host", h.Name, h.URL)
	}
	if u.Port() != "" {
		return u.Host, nil
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// newClient builds the API client for h; it does not connect.
func newClient(h HostConfig) (*client.Client, error) {
	if h.URL == "" {
		c, err := client.New(client.FromEnv)
		if err != nil {
			return nil, fmt.Errorf("host %s: client from environment: %w", h.Name, err)
		}
		return c, nil
	}
	addr, useTLS, err := h.endpoint()
	if err != nil {
		return nil, err
	}
	opts := []client.Opt{client.WithHost(addr)}
	if useTLS {
		opts = append(opts, client.WithTLSClientConfig(h.TLSCA, h.TLSCert, h.TLSKey))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("host %s: client for %s: %w", h.Name, h.URL, err)
	}
	return c, nil
}
