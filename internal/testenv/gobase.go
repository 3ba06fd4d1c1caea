package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// GoBaseLabel marks a golang image that GoBase made rather than pulled; its
// value is the hash of everything that went into it, so a stale one is
// remade and a real one is never touched.
const GoBaseLabel = "org.crowsnest.test.gobase"

// goBaseRepo is where GoBase keeps the Debian and Go layer it imports, so a
// change of go.mod or go.sum only rebuilds the small module layer on top.
const goBaseRepo = "crowsnest-gobase"

// goBaseRecipe is bumped when the way the image is made changes, which
// invalidates every cached root file system and image.
const goBaseRecipe = "1"

// goBaseTimeout bounds making the image: debootstrap from the Debian mirror
// takes a few minutes on a loaded machine; a cached run takes seconds.
const goBaseTimeout = 15 * time.Minute

// debianMirror is where debootstrap fetches the suite from.
const debianMirror = "http://deb.debian.org/debian"

// goBasePackages are what the official golang image has and the Dockerfile's
// build stage uses, beyond a minimal Debian: with them in the base, the
// build stage installs nothing.
const goBasePackages = "ca-certificates,make,brotli,git,libjs-xterm,node-xterm,esbuild"

// GoBase makes sure the engine holds ref, an official golang image reference
// "golang:<go version>-<debian suite>" such as a Dockerfile's build stage
// uses, without a registry: when the engine lacks it, GoBase makes it from
// Debian (debootstrap), the Go toolchain running the tests (which must be
// that version) and, as a file GOPROXY at /goproxy, the modules go.mod in
// moduleDir needs, so go mod download works offline. A ref the engine
// already holds without GoBaseLabel is a real image and is used as it is.
// The image, and the root file system under os.TempDir, stay cached for the
// next run.
func GoBase(tb testing.TB, c *client.Client, ref, moduleDir string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), goBaseTimeout)
	defer cancel()
	goVersion, suite, ok := strings.Cut(strings.TrimPrefix(ref, "golang:"), "-")
	if !ok || !strings.HasPrefix(ref, "golang:") {
		tb.Fatalf("go base: %s is not golang:<go version>-<debian suite>", ref)
	}
	if v := runtime.Version(); v != "go"+goVersion && !strings.HasPrefix(v, "go"+goVersion+".") {
		tb.Fatalf("go base: the tests run %s, which cannot stand in for %s", v, ref)
	}
	want, err := goBaseKey(suite, moduleDir)
	if err != nil {
		tb.Fatalf("go base: %v", err)
	}
	have, err := c.ImageInspect(ctx, ref)
	var stale string
	switch {
	case err == nil && (have.Config == nil || have.Config.Labels[GoBaseLabel] == ""):
		return
	case err == nil && have.Config.Labels[GoBaseLabel] == want:
		return
	case err == nil:
		stale = have.ID
	case !cerrdefs.IsNotFound(err):
		tb.Fatalf("go base: inspecting %s: %v", ref, err)
	}
	debootstrap, err := debootstrapPath()
	if err != nil {
		Unavailable(tb, "go base: no registry to pull %s from, and no debootstrap to make it with (make test-tools installs it): %v", ref, err)
	}
	if os.Geteuid() != 0 {
		Unavailable(tb, "go base: no registry to pull %s from, and debootstrap needs root to make it", ref)
	}
	if v, err := c.ServerVersion(ctx, client.ServerVersionOptions{}); err != nil {
		tb.Fatalf("go base: engine version: %v", err)
	} else if v.Arch != runtime.GOARCH {
		Unavailable(tb, "go base: no registry to pull %s from, and the engine runs %s, not this machine's %s", ref, v.Arch, runtime.GOARCH)
	}
	start := time.Now()
	root, err := goRootImage(ctx, c, suite, debootstrap)
	if err != nil {
		tb.Fatalf("go base: %v", err)
	}
	if err := addModules(ctx, c, root, ref, want, moduleDir); err != nil {
		tb.Fatalf("go base: %v", err)
	}
	tb.Logf("made %s from Debian %s and %s in %s", ref, suite, runtime.Version(), time.Since(start).Round(time.Second))
	if stale != "" {
		if _, err := c.ImageRemove(ctx, stale, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
			tb.Logf("go base: keeping the stale image %s: %v", stale, err)
		}
	}
}

// goRootKey names the Debian and Go root file system for suite: it changes
// with the recipe, the packages and the Go toolchain.
func goRootKey(suite string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{goBaseRecipe, suite, debianMirror, goBasePackages, runtime.Version(), runtime.GOARCH}, "\n")))
	return hex.EncodeToString(sum[:])[:12]
}

// goBaseKey is the GoBaseLabel value for suite and the modules of
// moduleDir's go.mod and go.sum.
func goBaseKey(suite, moduleDir string) (string, error) {
	h := sha256.New()
	h.Write([]byte(goRootKey(suite)))
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(moduleDir, name))
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", name, err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// goRootImage makes sure the engine holds the Debian and Go image for suite,
// importing it from the cached root file system, and returns its reference.
func goRootImage(ctx context.Context, c *client.Client, suite, debootstrap string) (string, error) {
	ref := goBaseRepo + ":" + goRootKey(suite)
	if _, err := c.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspecting %s: %w", ref, err)
	}
	dir, err := goRootFS(ctx, suite, debootstrap)
	if err != nil {
		return "", err
	}
	tarCmd := exec.CommandContext(ctx, "tar", "-C", dir, "--numeric-owner", "-c", ".")
	var tarErr bytes.Buffer
	tarCmd.Stderr = &tarErr
	rootfs, err := tarCmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("tar of %s: %w", dir, err)
	}
	if err := tarCmd.Start(); err != nil {
		return "", fmt.Errorf("tar of %s: %w", dir, err)
	}
	// The official image's settings: GOTOOLCHAIN=local so the go command
	// never tries to fetch another toolchain.
	res, err := c.ImageImport(ctx, client.ImageImportSource{Source: rootfs, SourceName: "-"}, ref, client.ImageImportOptions{
		Changes: []string{
			"ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"ENV GOLANG_VERSION=" + strings.TrimPrefix(runtime.Version(), "go"),
			"ENV GOTOOLCHAIN=local",
			"ENV GOPATH=/go",
			"WORKDIR /go",
			`CMD ["bash"]`,
		},
	})
	if err == nil {
		err = loadOutcome(res)
		_ = res.Close() // read to the end, or failed already
	}
	_, _ = io.Copy(io.Discard, rootfs) // let tar finish when the import failed early
	if werr := tarCmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("tar of %s: %w: %s", dir, werr, tarErr.Bytes())
	}
	if err != nil {
		return "", fmt.Errorf("importing %s: %w", ref, err)
	}
	return ref, nil
}

// goRootFS returns the cached root file system for suite: a minimal Debian
// with goBasePackages, the Go toolchain running the tests as /usr/local/go
// and an empty GOPATH /go. It is made in a sibling directory and renamed,
// so an interrupted run never leaves half of one.
func goRootFS(ctx context.Context, suite, debootstrap string) (string, error) {
	cache := filepath.Join(os.TempDir(), goBaseRepo)
	dir := filepath.Join(cache, goRootKey(suite))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("root file system cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cache, "making-")
	if err != nil {
		return "", fmt.Errorf("root file system cache: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // gone after the rename, unless it failed
	cmd := exec.CommandContext(ctx, debootstrap, "--variant=minbase", "--include="+goBasePackages, suite, tmp, debianMirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap %s: %w\n%s", suite, err, out)
	}
	if err := removeAll(filepath.Join(tmp, "var/cache/apt/archives"), "*.deb"); err != nil {
		return "", err
	}
	if out, err := exec.CommandContext(ctx, "cp", "-a", runtime.GOROOT(), filepath.Join(tmp, "usr/local/go")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copying GOROOT: %w\n%s", err, out)
	}
	for _, d := range []string{"go/bin", "go/src"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o777); err != nil {
			return "", fmt.Errorf("GOPATH: %w", err)
		}
		if err := os.Chmod(filepath.Join(tmp, d), 0o777); err != nil {
			return "", fmt.Errorf("GOPATH: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("root file system cache: %w", err)
	}
	return dir, nil
}

// debootstrapPath finds debootstrap, which lives in /usr/sbin, off the PATH
// of many shells.
func debootstrapPath() (string, error) {
	if p, err := exec.LookPath("debootstrap"); err == nil {
		return p, nil
	}
	return exec.LookPath("/usr/sbin/debootstrap")
}

// removeAll removes the files in dir that match pattern.
func removeAll(dir, pattern string) error {
	names, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return fmt.Errorf("globbing %s: %w", dir, err)
	}
	for _, n := range names {
		if err := os.Remove(n); err != nil {
			return fmt.Errorf("removing %s: %w", n, err)
		}
	}
	return nil
}

// addModules builds ref on root with the modules moduleDir's go.mod needs
// as a file GOPROXY at /goproxy, labelled GoBaseLabel=key. The modules come
// from the host's module cache, and from its GOPROXY for any it lacks.
func addModules(ctx context.Context, c *client.Client, root, ref, key, moduleDir string) error {
	tmp, err := os.MkdirTemp("", "crowsnest-gobase-")
	if err != nil {
		return fmt.Errorf("module proxy: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // best effort: a copy of cached modules
	hostEnv, err := exec.CommandContext(ctx, goTool(), "env", "GOMODCACHE", "GOPROXY").Output()
	if err != nil {
		return fmt.Errorf("go env: %w", err)
	}
	modcache, proxy, _ := strings.Cut(strings.TrimSpace(string(hostEnv)), "\n")
	download := exec.CommandContext(ctx, goTool(), "mod", "download")
	download.Dir = moduleDir
	download.Env = append(os.Environ(), "GOMODCACHE="+filepath.Join(tmp, "mod"), "GOFLAGS=-modcacherw",
		"GOPROXY=file://"+filepath.Join(modcache, "cache/download")+","+proxy)
	if out, err := download.CombinedOutput(); err != nil {
		return fmt.Errorf("go mod download: %w\n%s", err, out)
	}
	dockerfile := "FROM " + root + "\n" +
		"COPY mod/cache/download /goproxy\n" +
		"ENV GOPROXY=file:///goproxy\n" +
		"LABEL " + GoBaseLabel + "=" + key + "\n"
	if err := os.WriteFile(filepath.Join(tmp, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return fmt.Errorf("module proxy: %w", err)
	}
	tarCmd := exec.CommandContext(ctx, "tar", "-C", tmp, "--exclude=*.lock", "-c", "Dockerfile", "mod/cache/download")
	var tarErr bytes.Buffer
	tarCmd.Stderr = &tarErr
	buildCtx, err := tarCmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("tar of the module proxy: %w", err)
	}
	if err := tarCmd.Start(); err != nil {
		return fmt.Errorf("tar of the module proxy: %w", err)
	}
	res, err := c.ImageBuild(ctx, buildCtx, client.ImageBuildOptions{Tags: []string{ref}, Remove: true, ForceRemove: true})
	if err == nil {
		err = loadOutcome(res.Body)
		_ = res.Body.Close() // read to the end, or failed already
	}
	_, _ = io.Copy(io.Discard, buildCtx) // let tar finish when the build failed early
	if werr := tarCmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("tar of the module proxy: %w: %s", werr, tarErr.Bytes())
	}
	if err != nil {
		return fmt.Errorf("building %s: %w", ref, err)
	}
	return nil
}
