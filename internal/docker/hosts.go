package docker

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/moby/client"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// DefaultHostName names the engine crowsnest watches when no host is
// configured: the one DOCKER_HOST (or the default socket) points at.
const DefaultHostName = "Localhost"

// Default ports, as the docker CLI assumes them.
const (
	defaultTCPPort = "2375"
	defaultTLSPort = "2376"
)

// HostConfig is one engine to watch. An empty URL means DOCKER_HOST or the
// default socket, with DOCKER_CERT_PATH/DOCKER_TLS_VERIFY honoured (an
// ssh:// DOCKER_HOST works too).
//
// Options written as a URL query (see ParseHost) are moved into the fields
// below when the host is parsed or handed to New, so URL, which
// GET /api/v1/hosts shows, is the bare engine address.
type HostConfig struct {
	Name string
	URL  string
	// TLSCA, TLSCert and TLSKey are PEM file paths for tcp hosts: the CA
	// that signed the engine's certificate (empty: the system roots) and the
	// client certificate and key the engine requires. Giving any of them
	// turns TLS on for tcp:// URLs; cert and key go together.
	TLSCA   string
	TLSCert string
	TLSKey  string
	// SSHOptions are extra arguments for the ssh client of an ssh:// host,
	// such as "-i", "/path/key". They reach the ssh command line unchecked,
	// so they must come from the operator, never from a request; ParseHost
	// fills them only from its small set of query keys.
	SSHOptions []string
}

// DefaultHost is the host used when none is configured.
func DefaultHost() HostConfig { return HostConfig{Name: DefaultHostName} }

// hostName keeps names usable as a tag value ("host:<name>") and in URLs.
var hostName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseHost parses the --host flag form "NAME=URL". URL is one of
//
//	unix:///path/to/docker.sock
//	tcp://host[:port]                  plain HTTP, port 2375 by default
//	tcp+tls://host[:port] (or https://) TLS, port 2376 by default
//	ssh://[user@]host[:port][/remote/docker.sock]
//
// tcp hosts take TLS files as query keys, which also turn TLS on for
// tcp://: ca=FILE (the engine's CA; without it the system roots),
// cert=FILE and key=FILE (the client certificate and key, together):
//
//	tcp+tls://docker.example:2376?ca=/etc/crowsnest/ca.pem&cert=/etc/crowsnest/cert.pem&key=/etc/crowsnest/key.pem
//
// ssh hosts run "docker system dial-stdio" on the remote host through the
// ssh client, so the remote user needs the docker CLI and access to the
// engine; ~/.ssh/config is honoured. Query keys (see sshQueryKeys):
// identity=FILE, known-hosts=FILE, strict-host-key-checking=yes|no|accept-new
// and connect-timeout=SECONDS:
//
//	ssh://deploy@10.0.0.5?identity=/etc/crowsnest/id_ed25519&known-hosts=/etc/crowsnest/known_hosts
//
// Passwords in URLs are refused (use keys), as are unknown or repeated
// query keys.
func ParseHost(s string) (HostConfig, error) {
	name, raw, ok := strings.Cut(s, "=")
	if !ok {
		return HostConfig{}, fmt.Errorf("host %q: want NAME=URL", s)
	}
	return HostConfig{Name: name, URL: raw}.resolve()
}

// resolve checks h without connecting and moves the options of its URL
// query into the matching fields, returning the host with the bare URL.
func (h HostConfig) resolve() (HostConfig, error) {
	if !hostName.MatchString(h.Name) {
		return HostConfig{}, fmt.Errorf("host name %q: use letters, digits, '.', '_' and '-'", h.Name)
	}
	if h.URL == "" {
		if h.hasTLSFiles() || len(h.SSHOptions) > 0 {
			return HostConfig{}, fmt.Errorf("host %s: TLS files and ssh options need a URL (the environment's host takes DOCKER_CERT_PATH)", h.Name)
		}
		return h, nil
	}
	u, err := url.Parse(h.URL)
	if err != nil {
		// url.Error quotes the whole URL, which may hold a password.
		return HostConfig{}, fmt.Errorf("host %s: malformed URL: %w", h.Name, unwrapURLError(err))
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		return HostConfig{}, fmt.Errorf("host %s: passwords in host URLs are not accepted; use an ssh key or TLS client certificate", h.Name)
	}
	if u.Fragment != "" {
		return HostConfig{}, fmt.Errorf("host %s: URL %q: fragments are not allowed", h.Name, h.URL)
	}
	if u.User != nil && u.Scheme != "ssh" {
		return HostConfig{}, fmt.Errorf("host %s: URL %q: a user name is only meaningful for ssh://", h.Name, h.URL)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return HostConfig{}, fmt.Errorf("host %s: URL query %q: %w", h.Name, u.RawQuery, err)
	}
	for k, vs := range query {
		if len(vs) != 1 {
			return HostConfig{}, fmt.Errorf("host %s: URL query key %q given %d times", h.Name, k, len(vs))
		}
	}
	if u.RawQuery != "" || u.ForceQuery {
		// Re-encode only then, so a plain URL is shown exactly as given.
		u.RawQuery, u.ForceQuery = "", false
		h.URL = u.String()
	}
	switch u.Scheme {
	case "tcp", "http", "tcp+tls", "https":
		if err := h.tlsQuery(query); err != nil {
			return HostConfig{}, err
		}
	case "ssh":
		if h.hasTLSFiles() {
			return HostConfig{}, fmt.Errorf("host %s: TLS files apply to tcp hosts, not ssh://", h.Name)
		}
		opts, err := sshQuery(query)
		if err != nil {
			return HostConfig{}, fmt.Errorf("host %s: %w", h.Name, err)
		}
		h.SSHOptions = append(slices.Clip(h.SSHOptions), opts...)
	default:
		if len(query) > 0 {
			return HostConfig{}, fmt.Errorf("host %s: URL %q: %s:// takes no query options", h.Name, h.URL, u.Scheme)
		}
		if h.hasTLSFiles() {
			return HostConfig{}, fmt.Errorf("host %s: TLS files apply to tcp hosts, not %s://", h.Name, u.Scheme)
		}
	}
	if u.Scheme != "ssh" && len(h.SSHOptions) > 0 {
		return HostConfig{}, fmt.Errorf("host %s: ssh options apply to ssh:// hosts only", h.Name)
	}
	if _, _, err := h.endpoint(); err != nil {
		return HostConfig{}, err
	}
	return h, nil
}

// tlsQueryKeys are the query keys of tcp hosts and the fields they set.
var tlsQueryKeys = []string{"ca", "cert", "key"}

// tlsQuery moves the ca, cert and key query options into h.
func (h *HostConfig) tlsQuery(query url.Values) error {
	fields := map[string]*string{"ca": &h.TLSCA, "cert": &h.TLSCert, "key": &h.TLSKey}
	for k, vs := range query {
		field, ok := fields[k]
		if !ok {
			return fmt.Errorf("host %s: unknown URL query key %q for a tcp host (known: %s)", h.Name, k, strings.Join(tlsQueryKeys, ", "))
		}
		if vs[0] == "" {
			return fmt.Errorf("host %s: URL query key %q has no file", h.Name, k)
		}
		if *field != "" && *field != vs[0] {
			return fmt.Errorf("host %s: TLS %s file given twice", h.Name, k)
		}
		*field = vs[0]
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		return fmt.Errorf("host %s: a TLS client certificate needs both cert and key", h.Name)
	}
	return nil
}

func (h HostConfig) hasTLSFiles() bool {
	return h.TLSCA != "" || h.TLSCert != "" || h.TLSKey != ""
}

// validate checks the name and URL without connecting.
func (h HostConfig) validate() error {
	_, err := h.resolve()
	return err
}

// endpoint returns the address in the form the client takes
// ("unix:///…", "tcp://host:port", "ssh://user@host:port/path") and
// whether the connection uses TLS. It expects a resolved URL.
func (h HostConfig) endpoint() (host string, useTLS bool, err error) {
	u, err := url.Parse(h.URL)
	if err != nil {
		return "", false, fmt.Errorf("host %s: malformed URL: %w", h.Name, unwrapURLError(err))
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			return "", false, fmt.Errorf("host %s: URL %q has no socket path", h.Name, h.URL)
		}
		return "unix://" + u.Path, false, nil
	case "tcp", "http":
		addr, err := hostPort(h, u, defaultTCPPort)
		return "tcp://" + addr, h.hasTLSFiles(), err
	case "tcp+tls", "https":
		addr, err := hostPort(h, u, defaultTLSPort)
		return "tcp://" + addr, true, err
	case "ssh":
		if u.Hostname() == "" {
			return "", false, fmt.Errorf("host %s: URL %q has no host", h.Name, h.URL)
		}
		return h.URL, false, nil
	default:
		return "", false, fmt.Errorf("host %s: URL %q: unsupported scheme %q (want unix, tcp, tcp+tls, https or ssh)", h.Name, h.URL, u.Scheme)
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

// unwrapURLError drops url.Error's copy of the URL, which may hold a
// password, keeping the reason.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// untraced keeps the client's OpenTelemetry instrumentation out of every
// request: crowsnest exports no traces, and building the span and metric
// attributes of each ping, listing and stats request was a fifth of the
// CPU of 500 idle engines.
var untraced = client.WithTraceOptions(otelhttp.WithFilter(func(*http.Request) bool { return false }))

// newClient builds the API client for h; it does not connect.
func newClient(h HostConfig) (*client.Client, error) {
	if h.URL == "" {
		// The moby client has no ssh transport of its own, so an ssh://
		// DOCKER_HOST goes through the same helper as a configured one.
		if env := os.Getenv(client.EnvOverrideHost); strings.HasPrefix(env, "ssh://") {
			eh, err := HostConfig{Name: h.Name, URL: env}.resolve()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", client.EnvOverrideHost, err)
			}
			return newSSHClient(eh)
		}
		c, err := client.New(client.FromEnv, untraced)
		if err != nil {
			return nil, fmt.Errorf("host %s: client from environment: %w", h.Name, err)
		}
		return c, nil
	}
	// Hosts built in code may still carry query options: resolve is
	// idempotent, so doing it here too costs nothing.
	h, err := h.resolve()
	if err != nil {
		return nil, err
	}
	addr, useTLS, err := h.endpoint()
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(addr, "ssh://") {
		return newSSHClient(h)
	}
	opts := []client.Opt{client.WithHost(addr), untraced}
	if useTLS {
		opts = append(opts, client.WithTLSClientConfig(h.TLSCA, h.TLSCert, h.TLSKey))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("host %s: client for %s: %w", h.Name, h.URL, err)
	}
	return c, nil
}
