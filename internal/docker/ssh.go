package docker

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/docker/cli/cli/connhelper"
	"github.com/moby/moby/client"
)

// sshQueryKeys are the URL query keys an ssh:// host accepts, each mapped
// to fixed ssh options: a query can point ssh at files and pick among safe
// values, never add a flag of its own (ssh options such as ProxyCommand
// run programs). Anything else belongs in the ssh client's own config
// (~/.ssh/config of the user crowsnest runs as).
var sshQueryKeys = []string{"identity", "known-hosts", "strict-host-key-checking", "connect-timeout"}

// sshDefaultOptions follow the operator's options; ssh keeps the first
// value it sees of each, so the operator's win.
//   - BatchMode: a daemon has nobody to answer a password or passphrase
//     prompt; fail instead of hanging.
//   - ServerAlive*: notice a silently dead link within about 45 s, so the
//     event stream is resumed rather than waiting forever.
var sshDefaultOptions = []string{
	"-o", "BatchMode=yes",
	"-o", "ServerAliveInterval=15",
	"-o", "ServerAliveCountMax=3",
}

// sshQuery turns the query of an ssh:// URL into ssh options.
func sshQuery(query url.Values) ([]string, error) {
	var opts []string
	// Sorted keys keep the command line the same from run to run.
	keys := slices.Sorted(maps.Keys(query))
	_, knownHosts := query["known-hosts"]
	for _, k := range keys {
		v := query.Get(k)
		switch k {
		case "identity":
			if err := checkSSHPath(k, v); err != nil {
				return nil, err
			}
			// IdentitiesOnly: an agent offering many keys would otherwise
			// use up the server's MaxAuthTries before this one is tried.
			opts = append(opts, "-i", v, "-o", "IdentitiesOnly=yes")
		case "known-hosts":
			if err := checkSSHPath(k, v); err != nil {
				return nil, err
			}
			opts = append(opts, "-o", "UserKnownHostsFile="+v)
		case "strict-host-key-checking":
			switch v {
			case "yes", "accept-new":
				opts = append(opts, "-o", "StrictHostKeyChecking="+v)
			case "no":
				opts = append(opts, "-o", "StrictHostKeyChecking=no")
				if !knownHosts {
					// Without checking, recording keys only pollutes the
					// user's known_hosts and makes a later "yes" fail.
					opts = append(opts, "-o", "UserKnownHostsFile=/dev/null")
				}
			default:
				return nil, fmt.Errorf("URL query strict-host-key-checking=%q: want yes, no or accept-new", v)
			}
		case "connect-timeout":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 3600 {
				return nil, fmt.Errorf("URL query connect-timeout=%q: want whole seconds from 1 to 3600", v)
			}
			opts = append(opts, "-o", "ConnectTimeout="+strconv.Itoa(n))
		default:
			return nil, fmt.Errorf("unknown URL query key %q for an ssh host (known: %s)", k, strings.Join(sshQueryKeys, ", "))
		}
	}
	return opts, nil
}

// checkSSHPath accepts an absolute path that ssh takes literally: ssh
// splits option values at blanks and quotes and expands '%' tokens and
// '$' variables in file names, so those characters are refused rather
// than escaped.
func checkSSHPath(key, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("URL query %s=%q: want an absolute file path", key, path)
	}
	if i := strings.IndexFunc(path, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`"'\%$#`, r)
	}); i >= 0 {
		return fmt.Errorf("URL query %s=%q: the character %q is not allowed in an ssh file path", key, path, path[i])
	}
	return nil
}

// sshArgs is the ssh command line's options for h.
func sshArgs(h HostConfig) []string {
	return append(slices.Clone(h.SSHOptions), sshDefaultOptions...)
}

// newSSHClient builds a client whose every connection is a fresh
// "ssh … docker system dial-stdio" process, as the docker CLI does for
// ssh:// hosts. h must be resolved (no query left in the URL: the helper
// refuses one).
func newSSHClient(h HostConfig) (*client.Client, error) {
	helper, err := connhelper.GetConnectionHelperWithSSHOpts(h.URL, sshArgs(h))
	if err != nil {
		return nil, fmt.Errorf("host %s: ssh helper for %s: %w", h.Name, h.URL, err)
	}
	// The helper's Host is a placeholder for HTTP requests; the dialer
	// decides where the bytes go.
	c, err := client.New(client.WithHost(helper.Host), client.WithDialContext(helper.Dialer), untraced)
	if err != nil {
		return nil, fmt.Errorf("host %s: client for %s: %w", h.Name, h.URL, err)
	}
	return c, nil
}
