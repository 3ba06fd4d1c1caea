package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/docker"
	"github.com/crowsnest-hq/crowsnest/internal/history"
	"github.com/crowsnest-hq/crowsnest/internal/stats"
	"github.com/crowsnest-hq/crowsnest/server/api"
	"github.com/crowsnest-hq/crowsnest/server/auth"
)

// envPrefix starts the environment variable behind every flag:
// --max-events is also CROWSNEST_MAX_EVENTS.
const envPrefix = "CROWSNEST_"

// Config is everything crowsnest can be told at start-up.
type Config struct {
	Addr           string
	DataDir        string
	Hosts          []docker.HostConfig
	Tokens         []string // "read:SECRET" or "admin:SECRET"
	TokenFile      string
	HyperKeys      []string // "ACCESS:SECRET[:scope]"
	HyperKeyFile   string
	TLSCert        string
	TLSKey         string
	InsecureNoAuth bool
	AllowedOrigins []string
	AllowedHosts   []string   // --allowed-host names served besides the loopback names
	PublicURLs     []*url.URL // --public-url: where users reach crowsnest (a proxy's URL)
	LogLevel       string
	Retention      time.Duration
	MaxEvents      int
	StreamQueue    int
	MaxStreams     int     // concurrent streams per client; 0 = unlimited
	RequestRate    float64 // requests per second per client; 0 = unlimited
	RequestBurst   int
	TrustedProxies []netip.Prefix // --trusted-proxy: peers whose X-Forwarded-* headers count
	// StacksAllowHostPaths (--stacks-allow-host-paths) lets compose files
	// name files outside their stack's directory for the loader to read.
	StacksAllowHostPaths bool
	StatsSource          string // auto, engine or cgroup
	CgroupRoot           string
	ProcRoot             string
	StatsEvery           time.Duration // --stats-every: the sampling cadence of the stats history
	StatsRetention       time.Duration // --stats-retention: how long the stats history is kept
	NoExec               bool          // --no-exec: no shell in containers
	ExecIdleTimeout      time.Duration // --exec-idle-timeout: an idle shell session ends
	// --store and the --nats-* flags: the event log on NATS JetStream,
	// shared by replicas; NATSURLs empty means the bbolt file in DataDir.
	NATSURLs     []string
	NATSCreds    string
	NATSTLSCA    string
	NATSTLSCert  string
	NATSTLSKey   string
	NATSReplicas int
}

// listFlag is a repeatable flag; values from the environment are comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// parseConfig reads flags from args, falling back to CROWSNEST_* variables
// from getenv for every flag not given on the command line.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	var hosts, tokens, hyperKeys, origins, allowedHosts, publicURLs, proxies listFlag
	fs := flag.NewFlagSet("crowsnest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.DataDir, "data", "data", "directory of the bbolt event store")
	fs.Var(&hosts, "host", "extra Docker engine as `NAME=URL`; repeatable. URL is unix:///path, tcp://host[:2375], tcp+tls://host[:2376]?ca=FILE&cert=FILE&key=FILE (TLS with a client certificate; ca alone verifies the engine only) or ssh://user@host[:port][/remote.sock]?identity=FILE&known-hosts=FILE&strict-host-key-checking=yes|no|accept-new&connect-timeout=SECONDS (runs docker system dial-stdio remotely; ~/.ssh/config applies). Passwords in URLs are refused. The local engine (DOCKER_HOST or the default socket) is always Localhost unless a host of that name is given")
	fs.Var(&tokens, "token", "bearer token as SCOPE:TOKEN with scope read or admin; repeatable")
	fs.StringVar(&c.TokenFile, "token-file", "", "file of bearer tokens, one SCOPE:TOKEN a line (# comments)")
	fs.Var(&hyperKeys, "hyper-key", "Hyper.sh key pair as ACCESS:SECRET[:SCOPE] (scope read by default) for HYPER-HMAC-SHA256 signed requests; repeatable")
	fs.StringVar(&c.HyperKeyFile, "hyper-key-file", "", "file of Hyper.sh key pairs, one ACCESS:SECRET[:SCOPE] a line")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file: serve https and wss")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file")
	fs.BoolVar(&c.InsecureNoAuth, "insecure-no-auth", false, "allow running without auth on a non-loopback address")
	fs.Var(&origins, "allowed-origin", "extra Origin host pattern allowed to open websockets (e.g. app.example.com); repeatable")
	fs.Var(&allowedHosts, "allowed-host", "extra Host name to serve (e.g. crowsnest.example.com, any port); on a loopback address only localhost, 127.0.0.1 and [::1] are served otherwise, so a DNS name re-pointed at 127.0.0.1 cannot reach crowsnest; repeatable")
	fs.Var(&publicURLs, "public-url", "URL users reach crowsnest at, e.g. https://crowsnest.example.com behind a reverse proxy: its host is an --allowed-host and its origin is trusted for cross-origin checks; repeatable")
	fs.StringVar(&c.LogLevel, "log-level", "info", "minimum log level: debug, info, warn, error")
	fs.DurationVar(&c.Retention, "retention", 0, "delete stored events older than this (e.g. 720h); 0 keeps them")
	fs.IntVar(&c.MaxEvents, "max-events", 0, "keep at most this many stored events; 0 means no limit")
	fs.IntVar(&c.StreamQueue, "stream-queue", 1024, "events queued per stream client before it is dropped as too slow")
	fs.IntVar(&c.MaxStreams, "max-streams", 64, "concurrent streams per client (token or address); 0 means no limit")
	fs.Float64Var(&c.RequestRate, "request-rate", 50, "requests per second per client; 0 means no limit")
	fs.IntVar(&c.RequestBurst, "request-burst", 200, "request burst per client")
	fs.Var(&proxies, "trusted-proxy", "`CIDR` (or address) of a reverse proxy whose X-Forwarded-For and X-Forwarded-Proto are believed; from any other peer they are ignored; repeatable")
	fs.BoolVar(&c.StacksAllowHostPaths, "stacks-allow-host-paths", false, "let compose files of stacks name files outside their stack's directory that are read when the stack is created or deployed (include, extends, env_file, label_file); bind mounts are allowed either way")
	fs.StringVar(&c.StatsSource, "stats-source", "auto", "container stats from: engine (a stats stream per container), cgroup (read the host's cgroup files; local engine only), auto (cgroup when readable, else engine)")
	fs.StringVar(&c.CgroupRoot, "cgroup-root", "/sys/fs/cgroup", "mount point of the host's cgroup tree, for --stats-source cgroup/auto")
	fs.StringVar(&c.ProcRoot, "proc-root", "/proc", "the host's proc, for system CPU time, host memory and container network counters")
	fs.DurationVar(&c.StatsEvery, "stats-every", history.DefaultEvery, "sample every running container this often (whole seconds, at least 1s, dividing a minute or a multiple of it), for the stats history in DATA/history.db and the crowsnest_container_* metrics")
	fs.DurationVar(&c.StatsRetention, "stats-retention", history.DefaultRetention, "keep the stats history this long (e.g. 168h), removed containers' included; points are kept at --stats-every for 24 h, then 1 min for 7 days, then 10 min")
	fs.BoolVar(&c.NoExec, "no-exec", false, "turn off the shell in containers (GET /api/v1/containers/{id}/exec/ws answers 403, the UI hides its Terminal tab)")
	fs.DurationVar(&c.ExecIdleTimeout, "exec-idle-timeout", 30*time.Minute, "end a shell session in a container after this long without input or output; 0 never does")
	var storeURL string
	fs.StringVar(&storeURL, "store", "", "where the event log lives: empty for the bbolt file in --data; nats://HOST:PORT[,HOST:PORT…] for a NATS JetStream stream that several crowsnest replicas share (each keeps a local view, stack records and alert rules in --data; login sessions and leases live in NATS)")
	fs.StringVar(&c.NATSCreds, "nats-creds", "", "NATS credentials file (user JWT and seed) for --store nats://")
	fs.StringVar(&c.NATSTLSCA, "nats-tls-ca", "", "CA certificate file that verifies the NATS servers (TLS)")
	fs.StringVar(&c.NATSTLSCert, "nats-tls-cert", "", "client certificate file for the NATS servers (with --nats-tls-key)")
	fs.StringVar(&c.NATSTLSKey, "nats-tls-key", "", "client certificate key file for the NATS servers")
	fs.IntVar(&c.NATSReplicas, "nats-replicas", 1, "NATS servers that keep the event stream and key-value buckets (1, 3 or 5); a write is acknowledged once a majority of them stored it")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: crowsnest [flags]\n\nEvery flag can also be set by an environment variable: --max-events is %sMAX_EVENTS (lists comma-separated).\n\n", envPrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := applyEnv(fs, getenv); err != nil {
		return c, err
	}
	for _, h := range hosts {
		hc, err := docker.ParseHost(h)
		if err != nil {
			return c, fmt.Errorf("--host %q: %w", h, err)
		}
		c.Hosts = append(c.Hosts, hc)
	}
	c.Tokens, c.HyperKeys, c.AllowedOrigins = tokens, hyperKeys, origins
	if err := c.parseProxyFlags(allowedHosts, publicURLs, proxies); err != nil {
		return c, err
	}
	if err := c.parseStoreFlags(storeURL); err != nil {
		return c, err
	}
	if _, err := stats.ParseSource(c.StatsSource); err != nil {
		return c, fmt.Errorf("--stats-source: %w", err)
	}
	if c.StatsEvery < stats.MinInterval || c.StatsEvery%time.Second != 0 {
		return c, fmt.Errorf("--stats-every %v: want whole seconds, at least %v", c.StatsEvery, stats.MinInterval)
	}
	if c.ExecIdleTimeout < 0 {
		return c, fmt.Errorf("--exec-idle-timeout %v: want 0 or more", c.ExecIdleTimeout)
	}
	if c.StatsRetention < c.StatsEvery {
		return c, fmt.Errorf("--stats-retention %v: want at least --stats-every (%v)", c.StatsRetention, c.StatsEvery)
	}
	return c, nil
}

// parseProxyFlags reads --allowed-host, --public-url and --trusted-proxy.
func (c *Config) parseProxyFlags(hosts, publicURLs, proxies []string) error {
	for _, h := range hosts {
		name := auth.NormalHost(h)
		if name == "" || strings.ContainsAny(name, "/@ ") {
			return fmt.Errorf("--allowed-host %q: want a host name, without scheme or path", h)
		}
		c.AllowedHosts = append(c.AllowedHosts, name)
	}
	for _, s := range publicURLs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return fmt.Errorf("--public-url %q: want http(s)://host[:port]", s)
		}
		c.PublicURLs = append(c.PublicURLs, u)
		// Its pages may open the sockets too (a proxy may rewrite Host).
		c.AllowedOrigins = append(c.AllowedOrigins, u.Scheme+"://"+u.Host)
	}
	for _, s := range proxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fmt.Errorf("--trusted-proxy %q: want a CIDR (10.0.0.0/8) or an address: %w", s, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}

// applyEnv sets every flag not given on the command line from its variable.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := getenv(name)
		if v == "" {
			return
		}
		values := []string{v}
		if _, isList := f.Value.(*listFlag); isList {
			values = strings.Split(v, ",")
		}
		for _, one := range values {
			if e := f.Value.Set(strings.TrimSpace(one)); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
				return
			}
		}
	})
	return err
}

// errNoAuth refuses an open server on a reachable address: the engine socket
// behind crowsnest is root on the host.
var errNoAuth = errors.New("no auth configured (--token, --token-file, --hyper-key) and the address is not loopback: refusing to start; pass --insecure-no-auth to run open anyway")

// checkExposure applies the rule: open only on loopback or when told so.
func (c Config) checkExposure(authConfigured bool) error {
	if authConfigured || c.InsecureNoAuth || auth.IsLoopback(c.Addr) {
		return nil
	}
	return errNoAuth
}

// authOptions are the credentials of c, for auth.New.
func (c Config) authOptions() auth.Options {
	return auth.Options{
		Tokens:         c.Tokens,
		TokenFile:      c.TokenFile,
		HyperKeys:      c.HyperKeys,
		HyperKeyFile:   c.HyperKeyFile,
		AllowedOrigins: c.AllowedOrigins,
	}
}

// apiOptions are the settings of the HTTP surface in c, for api.New; the
// parts it serves are the caller's to add.
func (c Config) apiOptions() api.Options {
	return api.Options{
		StreamQueue:    c.StreamQueue,
		AllowedOrigins: c.AllowedOrigins,
		Limits: auth.Limits{
			MaxStreams:     c.MaxStreams,
			Rate:           c.RequestRate,
			Burst:          c.RequestBurst,
			TrustedProxies: c.TrustedProxies,
		},
		Site: auth.Site{Addr: c.Addr, AllowedHosts: c.AllowedHosts, PublicURLs: c.PublicURLs},
		Exec: api.ExecOptions{Disabled: c.NoExec, IdleTimeout: c.ExecIdleTimeout},
	}
}
