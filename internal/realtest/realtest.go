// Package realtest decides what a test does when a real component it needs
// (swtpm, tpm2-tools, evmctl, QEMU, the shared real data) is missing.
//
// Locally such a test is skipped with the reason. Under CI (CI=true) or with
// ATTEST_BUILD_REQUIRE_REAL=1 the same condition fails the test, so a CI run
// can never pass by skipping the real parts.
package realtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Required reports whether missing real components fail tests instead of
// skipping them.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("ATTEST_BUILD_REQUIRE_REAL") == "1"
}

// Missing skips t, or fails it when real components are required, naming what
// is missing and why it matters.
func Missing(t testing.TB, what, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("required real component missing: %s: %s (CI or ATTEST_BUILD_REQUIRE_REAL=1 turns this skip into a failure)", what, reason)
	}
	t.Skipf("skipping: %s missing: %s", what, reason)
}

// LookPath returns the path of the named program, or calls Missing.
func LookPath(t testing.TB, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		Missing(t, prog, "install the Debian package "+pkg+" (make test does)")
	}
	return p
}

// sharedDir returns where the shared/ folder is looked for: $ATTEST_BUILD_SHARED;
// else the nearest ancestor of the repository root holding shared/realdata;
// else the repository root's sibling shared/ (where CI lays it).
func sharedDir() string {
	if dir := os.Getenv("ATTEST_BUILD_SHARED"); dir != "" {
		return dir
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	for d := filepath.Dir(root); d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "shared", "realdata")); err == nil {
			return filepath.Join(d, "shared")
		}
	}
	return filepath.Join(root, "..", "shared")
}

// SharedDir returns the shared/ folder beside the repository (../shared from
// the repository root, or the nearest ancestor's shared/; ATTEST_BUILD_SHARED
// overrides both), or calls Missing when it is absent.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir := sharedDir()
	if _, err := os.Stat(filepath.Join(dir, "realdata")); err != nil {
		Missing(t, "shared real data", "expected at "+dir+"/realdata (set ATTEST_BUILD_SHARED); "+
			"its files may not be copied into the repository (license), see testdata/ for those that are")
	}
	return dir
}

// RealData returns the path of a file under shared/realdata, or calls
// Missing when it is absent.
func RealData(t testing.TB, rel string) string {
	t.Helper()
	p, ok := FindRealData(rel)
	if !ok {
		Missing(t, "real data file shared/realdata/"+rel, "its license keeps it out of the repository's testdata/; "+
			"expected at "+p+" (set ATTEST_BUILD_SHARED to the folder holding realdata/)")
	}
	return p
}

// FindRealData returns the path of a file under shared/realdata and whether
// it exists, for optional uses such as fuzz seeds; it never skips or fails.
func FindRealData(rel string) (string, bool) {
	p := filepath.Join(sharedDir(), "realdata", rel)
	_, err := os.Stat(p)
	return p, err == nil
}
