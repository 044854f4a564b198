package realtest

import (
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
		return bin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		Missing(t, name+" "+version, err.Error())
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		Missing(t, name+" "+version, "no go command to build it with")
	}
	t.Logf("building %s@%s into %s (once; kept for later runs)", pkg, version, dir)
	cmd := exec.Command(goCmd, "install", pkg+"@"+version)
	// GOTOOLCHAIN=local: the machine's Go, never a downloaded one; a tool
	// that needs a newer Go fails here and is reported as missing.
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		Missing(t, name+" "+version, "go install "+pkg+"@"+version+" failed: "+err.Error()+": "+strings.Join(lines, " | "))
	}
	return bin
}
