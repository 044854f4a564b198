package realtest

import (
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var goToolMu sync.Mutex

// GoTool returns the path of a Go program built from the module proxy with
// `go install PKG@VERSION` into a cache folder kept between runs
// ($ATTEST_BUILD_TOOLS, else the user cache folder's attest-build-tools/),
// one folder per package and version; an existing build is reused. When it
// cannot be built (no network, no module proxy, a toolchain too old for it)
// it calls Missing with the go command's last lines.
func GoTool(t testing.TB, pkg, version string) string {
	t.Helper()
	bin, err := buildGoTool(t, pkg, version)
	if err != nil {
		Missing(t, path.Base(pkg)+" "+version, err.Error())
	}
	return bin
}

// cosignVersion is the cosign the tests build from the module proxy: the
// newest v3 release that builds with this module's Go.
const cosignVersion = "v3.1.3"

// Cosign returns the cosign v3 the tests run (GoTool): required, as every
// third-party verifier is.
func Cosign(t testing.TB) string {
	t.Helper()
	return GoTool(t, "github.com/sigstore/cosign/v3/cmd/cosign", cosignVersion)
}

// OptionalGoTool is GoTool for a tool the project does not require: when
// it cannot be built the test is skipped with the reason, under CI too.
func OptionalGoTool(t testing.TB, pkg, version string) string {
	t.Helper()
	bin, err := buildGoTool(t, pkg, version)
	if err != nil {
		t.Skipf("skipping: optional tool %s %s not built: %v", path.Base(pkg), version, err)
	}
	return bin
}

// buildGoTool builds pkg@version into the cache unless it is there. It
// runs `go install PKG@VERSION`; when that fails, it builds the package
// from a throwaway module that requires it (`go get`, `go build`), which
// needs no version list from the proxy: `go install` reads one for the
// module's deprecation notice, and a proxy may refuse it.
func buildGoTool(t testing.TB, pkg, version string) (string, error) {
	goToolMu.Lock()
	defer goToolMu.Unlock()
	root := os.Getenv("ATTEST_BUILD_TOOLS")
	if root == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		root = filepath.Join(c, "attest-build-tools")
	}
	name := path.Base(pkg)
	dir := filepath.Join(root, name+"-"+version)
	bin := filepath.Join(dir, name)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("no go command to build it with")
	}
	t.Logf("building %s@%s into %s (once; kept for later runs)", pkg, version, dir)
	// GOTOOLCHAIN=local: the machine's Go, never a downloaded one; a tool
	// that needs a newer Go fails here and is reported as missing.
	// GOBIN: where go install puts it.
	env := append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false", "GOBIN="+dir)
	run := func(wd string, args ...string) error {
		cmd := exec.Command(goCmd, args...)
		cmd.Dir, cmd.Env = wd, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) > 8 {
				lines = lines[len(lines)-8:]
			}
			return errors.New("go " + strings.Join(args, " ") + " failed: " + err.Error() + ": " + strings.Join(lines, " | "))
		}
		return nil
	}
	ierr := run(dir, "install", pkg+"@"+version)
	if ierr == nil {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	mod, err := os.MkdirTemp("", "gotool")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(mod)
	tmp := bin + ".tmp"
	for _, args := range [][]string{{"mod", "init", "gotool.invalid/build"}, {"get", pkg + "@" + version}, {"build", "-o", tmp, pkg}} {
		if err := run(mod, args...); err != nil {
			return "", errors.Join(ierr, err)
		}
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}
