package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// HelperRepo is the repository the helper image is tagged in: once with a
// short hash of the binary (the tag tests should use, so stale builds are
// never picked up) and once as "latest" for people poking around by hand.
const HelperRepo = "crowsnest-helper"

// HelperPath is where the helper binary sits in the image, for a command
// run inside a helper container such as a health check.
const HelperPath = "/helper"

// imageTimeout bounds building and loading: a cold go build takes a while on
// two cores, loading a few MiB is quick.
const imageTimeout = 3 * time.Minute

// helperCache remembers, per process, the image reference loaded into each
// engine, so only the first test of a package pays for the build and load.
var helperCache struct {
	mu   sync.Mutex
	refs map[string]string // engine host → image reference
}

// HelperImage builds the helper program and makes sure the engine of Engine
// holds it as an image; it returns the image reference
// "crowsnest-helper:<hash>". An image already present under that tag is
// reused rather than loaded again, so concurrent test processes share one
// image: they load byte-identical tars, which the engine turns into the same
// image ID.
func HelperImage(tb testing.TB) string {
	tb.Helper()
	return helperImageOn(tb, Engine(tb))
}

// helperImageOn is HelperImage for a given engine client.
func helperImageOn(tb testing.TB, cli *client.Client) string {
	tb.Helper()
	helperCache.mu.Lock()
	defer helperCache.mu.Unlock()
	if ref, ok := helperCache.refs[cli.DaemonHost()]; ok {
		return ref
	}
	ctx, cancel := context.WithTimeout(context.Background(), imageTimeout)
	defer cancel()
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		tb.Fatalf("helper image: engine version: %v", err)
	}
	bin, err := buildHelper(ctx, v.Arch)
	if err != nil {
		tb.Fatalf("helper image: %v", err)
	}
	ref, loaded, err := ensureImage(ctx, cli, bin, v.Arch)
	if err != nil {
		tb.Fatalf("helper image: %v", err)
	}
	if loaded {
		tb.Logf("loaded helper image %s into %s", ref, cli.DaemonHost())
	}
	if helperCache.refs == nil {
		helperCache.refs = make(map[string]string)
	}
	helperCache.refs[cli.DaemonHost()] = ref
	return ref
}

// buildHelper compiles ./helper statically for the engine's architecture and
// returns the binary. -trimpath and no VCS stamp make the output depend on
// the source and toolchain only, so every process derives the same tag.
func buildHelper(ctx context.Context, arch string) ([]byte, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return nil, errors.New("cannot locate the testenv source directory")
	}
	src := filepath.Join(filepath.Dir(self), "helper")
	dir, err := os.MkdirTemp("", "crowsnest-helper-")
	if err != nil {
		return nil, fmt.Errorf("temp dir for the helper build: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }() // best effort: only a temp binary
	out := filepath.Join(dir, "helper")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = src
	// GOFLAGS is cleared so a caller's -race (which needs cgo) cannot leak in.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", src, err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("reading the helper binary: %w", err)
	}
	return bin, nil
}

// goTool is the go command of the toolchain running the tests, so the helper
// is built by the same Go even when PATH has another or none.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// ensureImage makes sure the engine holds the helper image for bin, loading
// it only when its tag is missing; loaded reports whether it did.
func ensureImage(ctx context.Context, c *client.Client, bin []byte, arch string) (ref string, loaded bool, err error) {
	sum := sha256.Sum256(bin)
	ref = HelperRepo + ":" + hex.EncodeToString(sum[:])[:12]
	latest := HelperRepo + ":latest"
	_, err = c.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: ref, Target: latest}); err != nil {
			return "", false, fmt.Errorf("tagging %s as %s: %w", ref, latest, err)
		}
		return ref, false, nil
	case !cerrdefs.IsNotFound(err):
		return "", false, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	archive, err := imageArchive(bin, arch, ref, latest)
	if err != nil {
		return "", false, err
	}
	if err := loadArchive(ctx, c, ref, archive); err != nil {
		return "", false, err
	}
	return ref, true, nil
}

// loadArchive loads an image archive, the image ref, into the engine.
func loadArchive(ctx context.Context, c *client.Client, ref string, archive []byte) error {
	res, err := c.ImageLoad(ctx, bytes.NewReader(archive), client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("loading %s: %w", ref, err)
	}
	defer func() { _ = res.Close() }() // the body is read to the end below
	if err := loadOutcome(res); err != nil {
		return fmt.Errorf("loading %s: %w", ref, err)
	}
	return nil
}

// loadOutcome reads the engine's JSON progress stream and returns the error
// it reports, if any: a failed load still answers 200.
func loadOutcome(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the load response: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// fixedTime stamps the layer and config so the archive, and with it the image
// ID, depends on the binary only.
var fixedTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// imageArchive writes, in memory, the tar "docker save" produces for a
// one-layer image holding bin as /helper, tagged with tags.
func imageArchive(bin []byte, arch string, tags ...string) ([]byte, error) {
	return layerArchive([]tarFile{{name: HelperPath[1:], mode: 0o755, data: bin}}, arch, map[string]any{
		"Entrypoint": []string{HelperPath},
		"Labels":     map[string]string{"org.crowsnest.helper": "true"},
	}, tags...)
}

// layerArchive writes, in memory, the tar "docker save" produces for a
// one-layer image of files with the image config cfg, tagged with tags.
func layerArchive(files []tarFile, arch string, cfg map[string]any, tags ...string) ([]byte, error) {
	var layer bytes.Buffer
	if err := writeTar(&layer, files); err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	diffID := sha256.Sum256(layer.Bytes())
	diffHex := hex.EncodeToString(diffID[:])

	config, err := json.Marshal(map[string]any{
		"architecture": arch,
		"os":           "linux",
		"created":      fixedTime,
		"config":       cfg,
		"rootfs": map[string]any{
			"type":     "layers",
			"diff_ids": []string{"sha256:" + diffHex},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	layerName := diffHex + "/layer.tar"

	manifest, err := json.Marshal([]map[string]any{{
		"Config":   configName,
		"RepoTags": tags,
		"Layers":   []string{layerName},
	}})
	if err != nil {
		return nil, fmt.Errorf("image manifest: %w", err)
	}

	var out bytes.Buffer
	err = writeTar(&out, []tarFile{
		{name: diffHex + "/", mode: 0o755, dir: true},
		{name: layerName, mode: 0o644, data: layer.Bytes()},
		{name: configName, mode: 0o644, data: config},
		{name: "manifest.json", mode: 0o644, data: manifest},
	})
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	return out.Bytes(), nil
}

// tarFile is one entry of an archive imageArchive writes.
type tarFile struct {
	name string
	mode int64
	dir  bool
	link string // a symbolic link to this target
	data []byte
}

func writeTar(w io.Writer, files []tarFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: fixedTime, Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		switch {
		case f.dir:
			h.Typeflag, h.Size = tar.TypeDir, 0
		case f.link != "":
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, f.link
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar header %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return fmt.Errorf("tar data %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing tar: %w", err)
	}
	return nil
}
