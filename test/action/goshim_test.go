package action_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The action compiles attest-build in new, empty Go caches, which takes
// minutes. Most tests here run the action many times, so the harness puts a
// `go` of its own first on PATH: it records each call (arguments and Go
// variables) in $RUNNER_TEMP/go-shim.log and answers `go build` with a
// binary the harness built once per test process from the same source, tags
// and cgo setting; every other call goes to the real go. One test
// (TestActionBuildsInFreshCaches) runs the real build without the shim.

var (
	shimOnce sync.Once
	shimDir  string
	shimErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shimDir != "" {
		os.RemoveAll(shimDir)
	}
	os.Exit(code)
}

// goShim returns the folder holding the shim `go`.
func goShim(t *testing.T, realGo string) string {
	t.Helper()
	shimOnce.Do(func() {
		dir, err := os.MkdirTemp("", "action-go-shim-")
		if err != nil {
			shimErr = err
			return
		}
		for _, v := range []struct {
			name string
			args []string
			cgo  string
		}{{"attest-build", nil, "0"}, {"attest-build-sim", []string{"-tags", "simulator"}, "1"}} {
			cmd := exec.Command(realGo, append(append([]string{"build", "-trimpath"}, v.args...), "-o", filepath.Join(dir, v.name), "./cmd/attest-build")...)
			cmd.Dir = repoRoot(t)
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+v.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				shimErr = fmt.Errorf("building %s: %v\n%s", v.name, err, out)
				return
			}
		}
		script := `#!/bin/sh
# go shim of test/action (see goshim_test.go)
log="${RUNNER_TEMP:-/tmp}/go-shim.log"
{ printf 'args:'; printf ' %s' "$@"; printf '\n'; env | grep -E '^(GO|CGO_)[A-Z_]*=' | sort; printf 'pre-existing:'; for d in "$GOCACHE" "$GOMODCACHE"; do [ -e "$d" ] && printf ' %s' "$d"; done; printf '\n'; } >> "$log"
if [ "$1" = build ]; then
	out= sim=
	prev=
	for a in "$@"; do
		[ "$prev" = -o ] && out=$a
		[ "$a" = simulator ] && sim=-sim
		prev=$a
	done
	[ -n "$out" ] || { echo "go shim: build without -o" >&2; exit 2; }
	exec cp "` + dir + `/attest-build$sim" "$out"
fi
exec "` + realGo + `" "$@"
`
		shimErr = os.WriteFile(filepath.Join(dir, "go"), []byte(script), 0o755)
		shimDir = dir
	})
	if shimErr != nil {
		t.Fatal(shimErr)
	}
	return shimDir
}

// goShimLog returns what the shim recorded during r's runs.
func goShimLog(t *testing.T, r *runner) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.temp, "go-shim.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// The action builds attest-build in new Go caches under RUNNER_TEMP that
// did not exist before the step, with -mod=readonly, no go env file and the
// local toolchain, whatever the job's own Go variables say (an earlier job
// as the same user may have poisoned the shared caches or `go env -w`).
func TestActionBuildsWithItsOwnGoSettings(t *testing.T) {
	r := newRunner(t, t.TempDir())
	poisoned := t.TempDir()
	r.env["GOFLAGS"] = "-mod=mod -toolexec=/tmp/evil"
	r.env["GOCACHE"] = filepath.Join(poisoned, "cache")
	r.env["GOMODCACHE"] = filepath.Join(poisoned, "mod")
	r.env["GOINSECURE"] = "*"
	r.env["GONOSUMDB"] = "*"
	res := r.run(map[string]string{"mode": "verify"}) // fails later, at the missing policy
	if s := stepByName(t, res, "Build attest-build from the action's source"); s.Exit != 0 {
		t.Fatalf("install failed:\n%s", s.Log)
	}
	log := goShimLog(t, r)
	var build string
	for _, call := range strings.Split(log, "args:") {
		if strings.HasPrefix(call, " build") {
			build = call
		}
	}
	if build == "" {
		t.Fatalf("no go build recorded:\n%s", log)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(build, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	for _, name := range []string{"GOCACHE", "GOMODCACHE"} {
		if !strings.HasPrefix(vars[name], r.temp+string(filepath.Separator)) {
			t.Errorf("go build ran with %s=%q, want a new folder under RUNNER_TEMP %s", name, vars[name], r.temp)
		}
	}
	if !strings.Contains(build, "pre-existing:\n") {
		t.Errorf("the build caches existed before go build ran:\n%s", build)
	}
	if vars["GOFLAGS"] != "-mod=readonly" || vars["GOENV"] != "off" || vars["GOTOOLCHAIN"] != "local" {
		t.Errorf("go build ran with GOFLAGS=%q GOENV=%q GOTOOLCHAIN=%q, want -mod=readonly, off, local", vars["GOFLAGS"], vars["GOENV"], vars["GOTOOLCHAIN"])
	}
	for _, name := range []string{"GOINSECURE", "GONOSUMDB"} {
		if _, ok := vars[name]; ok {
			t.Errorf("go build ran with the job's %s", name)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(r.temp, "attest-build-go.*")); len(left) > 0 {
		t.Errorf("the build caches were not removed: %v", left)
	}
}

// The real thing, without the shim: the action's build in empty caches
// (modules from a proxy, here a file:// copy of this machine's module
// download cache, each checked against go.sum) gives a working binary and
// leaves the job's own caches untouched.
func TestActionBuildsInFreshCaches(t *testing.T) {
	// A cold build of attest-build and every dependency takes minutes on a
	// 2-core machine (14 min under load): it runs when asked, by
	// `make test-cold` (ATTEST_BUILD_COLD_BUILD=1), not in every `make test`;
	// TestActionBuildsWithItsOwnGoSettings covers the settings on each run.
	if testing.Short() || os.Getenv("ATTEST_BUILD_COLD_BUILD") != "1" {
		t.Skip("compiles attest-build and its dependencies from nothing (minutes); run with ATTEST_BUILD_COLD_BUILD=1 (make test-cold)")
	}
	r := newRunner(t, t.TempDir())
	r.useRealGo()
	download := filepath.Join(r.env["GOMODCACHE"], "cache", "download")
	if _, err := os.Stat(download); err != nil {
		t.Skipf("no module download cache to serve as the proxy: %v", err)
	}
	r.env["GOPROXY"] = "file://" + download
	jobCache := t.TempDir()
	r.env["GOCACHE"], r.env["GOMODCACHE"] = filepath.Join(jobCache, "cache"), filepath.Join(jobCache, "mod")
	res := r.run(map[string]string{"mode": "verify"})
	s := stepByName(t, res, "Build attest-build from the action's source")
	if s.Exit != 0 {
		t.Fatalf("install failed:\n%s", s.Log)
	}
	if out, err := exec.Command(res.Outputs["bin"], "--help").CombinedOutput(); err != nil {
		t.Fatalf("the built binary: %v\n%s", err, out)
	}
	if left, _ := os.ReadDir(jobCache); len(left) > 0 {
		t.Errorf("the job's own Go caches were used: %v", left)
	}
}
