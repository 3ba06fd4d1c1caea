package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// ShellRepo is the repository of the shell image: Debian's static busybox
// with a few applets linked, a container with a shell for the exec tests.
const ShellRepo = "crowsnest-shell"

// busyboxPath is Debian's busybox-static binary (make test-tools installs it).
const busyboxPath = "/bin/busybox"

// shellApplets are the busybox commands the shell image links into /bin.
var shellApplets = []string{
	"sh", "ash", "cat", "echo", "env", "grep", "head", "id", "kill", "ls", "printf",
	"ps", "pwd", "sleep", "stty", "top", "tr", "true", "wc", "yes",
}

// shellCache remembers the shell image loaded into each engine.
var shellCache struct {
	mu   sync.Mutex
	refs map[string]string // engine host → image reference
}

// ShellImage makes sure the engine of cli holds the shell image (loaded as
// an archive, no registry) and returns its reference,
// "crowsnest-shell:<hash of busybox>". Its command sleeps, so a container of
// it runs until removed. Without busybox the test is skipped (fails with
// CI=true).
func ShellImage(tb testing.TB, cli *client.Client) string {
	tb.Helper()
	shellCache.mu.Lock()
	defer shellCache.mu.Unlock()
	if ref, ok := shellCache.refs[cli.DaemonHost()]; ok {
		return ref
	}
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		Unavailable(tb, "no busybox for the shell image (install busybox-static): %v", err)
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), imageTimeout)
	defer cancel()
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		tb.Fatalf("shell image: engine version: %v", err)
	}
	sum := sha256.Sum256(bin)
	ref := ShellRepo + ":" + hex.EncodeToString(sum[:])[:12]
	if _, err := cli.ImageInspect(ctx, ref); cerrdefs.IsNotFound(err) {
		archive, err := shellArchive(bin, v.Arch, ref)
		if err != nil {
			tb.Fatalf("shell image: %v", err)
		}
		if err := loadArchive(ctx, cli, ref, archive); err != nil {
			tb.Fatalf("shell image: %v", err)
		}
	} else if err != nil {
		tb.Fatalf("shell image: inspecting %s: %v", ref, err)
	}
	if shellCache.refs == nil {
		shellCache.refs = make(map[string]string)
	}
	shellCache.refs[cli.DaemonHost()] = ref
	return ref
}

// shellArchive is the shell image's archive: /bin/busybox, its applets as
// links to it, an /etc/passwd with root and nobody, and an empty /tmp.
func shellArchive(busybox []byte, arch string, tags ...string) ([]byte, error) {
	files := []tarFile{
		{name: "bin/", mode: 0o755, dir: true},
		{name: "bin/busybox", mode: 0o755, data: busybox},
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")},
		{name: "root/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	for _, a := range shellApplets {
		files = append(files, tarFile{name: "bin/" + a, mode: 0o777, link: "busybox"})
	}
	archive, err := layerArchive(files, arch, map[string]any{
		"Cmd":    []string{"/bin/sleep", "3600"},
		"Env":    []string{"PATH=/bin"},
		"Labels": map[string]string{"org.crowsnest.helper": "true"},
	}, tags...)
	if err != nil {
		return nil, fmt.Errorf("shell image: %w", err)
	}
	return archive, nil
}
