package natsstore

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Options configure the NATS JetStream store.
type Options struct {
	// URLs are the NATS servers, nats://HOST:PORT (or tls://); one
	// answering is enough, the client learns the rest of the cluster.
	URLs []string
	// Creds is a NATS credentials file (user JWT and seed); optional.
	Creds string
	// TLSCA verifies the servers; TLSCert and TLSKey are a client
	// certificate. All optional.
	TLSCA, TLSCert, TLSKey string
	// Replicas is how many servers keep the stream and the key-value
	// buckets (1, 3 or 5 make sense); a write is acknowledged once a
	// majority of them stored it. Default 1.
	Replicas int
	// ViewPath is the local bbolt view of the stream.
	ViewPath string
	// Retention and MaxEvents bound the stream and the view as they bound
	// the bbolt store (see store.Options); zero keeps everything.
	Retention time.Duration
	MaxEvents int
	// Name identifies this replica to the NATS servers and in leases.
	Name string
	// MinBackoff and MaxBackoff space out the attempts to reach NATS at
	// start-up; defaults half a second and 30 seconds.
	MinBackoff, MaxBackoff time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// ParseURLs reads --store's value: nats://HOST:PORT[,HOST:PORT…], the
// scheme (nats or tls) given once for all servers or on each.
func ParseURLs(s string) ([]string, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "nats" && scheme != "tls") {
		return nil, fmt.Errorf("%q: want nats://HOST:PORT[,HOST:PORT…]", s)
	}
	var out []string
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if !strings.Contains(part, "://") {
			part = scheme + "://" + part
		}
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("%q: want nats://HOST:PORT, without credentials (use --nats-creds)", part)
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return nil, fmt.Errorf("%q: want HOST:PORT: %w", part, err)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// connectTimeout bounds one attempt to reach a server.
const connectTimeout = 5 * time.Second

// natsOptions are the connection's options. Once connected the client
// reconnects by itself forever; writes made while it is disconnected fail
// at once (no reconnect buffer) rather than wait in memory, so a caller
// learns the store is unavailable.
func (o Options) natsOptions(onDown func(error), onUp func()) []nats.Option {
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.Timeout(connectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { onDown(err) }),
		nats.ReconnectHandler(func(*nats.Conn) { onUp() }),
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" || o.TLSKey != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	return opts
}
