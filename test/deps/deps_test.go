// Package deps_test holds scripts/install-debs.sh (make deps, make
// bench-deps) and the README's list of the packages make test installs to
// their promises, with fake apt-get, dpkg-query and id on PATH.
package deps_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// fakes writes dpkg-query (installed: the packages named in $FAKE_INSTALLED),
// apt-get (logs its arguments; fails for the packages in $FAKE_BROKEN; says a
// lock is held while the file $FAKE_LOCKED counts down) and id (uid
// $FAKE_UID) into a folder and returns it.
func fakes(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	scripts := map[string]string{
		"dpkg-query": `#!/bin/bash
for p in $FAKE_INSTALLED; do [ "$p" = "${@: -1}" ] && { printf 'install ok installed'; exit 0; }; done
exit 1
`,
		"apt-get": `#!/bin/bash
echo "$*" >>"$FAKE_LOG"
if [ -n "$FAKE_LOCKED" ] && [ "$(cat "$FAKE_LOCKED")" -gt 0 ]; then
	echo $(($(cat "$FAKE_LOCKED") - 1)) >"$FAKE_LOCKED"
	echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2
	exit 100
fi
for a in "$@"; do for b in $FAKE_BROKEN; do
	[ "$a" = "$b" ] && { echo "E: Unable to locate package $b" >&2; exit 100; }
done; done
exit 0
`,
		"id": "#!/bin/sh\necho \"$FAKE_UID\"\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type run struct {
	out  string
	code int
	apt  string // the apt-get command lines
}

func installDebs(t *testing.T, env []string, pkgs ...string) run {
	t.Helper()
	bin := fakes(t)
	logFile := filepath.Join(t.TempDir(), "apt.log")
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "install-debs.sh"), append([]string{"make test"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_LOG="+logFile, "APT_LOCK_POLL=0.1")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	r := run{out: string(out)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	apt, _ := os.ReadFile(logFile)
	r.apt = string(apt)
	return r
}

func TestInstallDebs(t *testing.T) {
	t.Run("all installed", func(t *testing.T) {
		r := installDebs(t, []string{"FAKE_UID=0", "FAKE_INSTALLED=swtpm zstd"}, "swtpm", "zstd")
		if r.code != 0 || r.out != "" || r.apt != "" {
			t.Fatalf("exit %d, output %q, apt-get %q: want 0, nothing, no apt-get", r.code, r.out, r.apt)
		}
	})
	t.Run("not root names the packages", func(t *testing.T) {
		r := installDebs(t, []string{"FAKE_UID=1000", "FAKE_INSTALLED=swtpm"}, "swtpm", "zstd", "cpio")
		if r.code != 0 || !strings.Contains(r.out, "sudo apt-get install zstd cpio") || r.apt != "" {
			t.Fatalf("exit %d, output %q, apt-get %q", r.code, r.out, r.apt)
		}
	})
	t.Run("installs the missing ones", func(t *testing.T) {
		r := installDebs(t, []string{"FAKE_UID=0", "FAKE_INSTALLED=swtpm"}, "swtpm", "zstd", "cpio")
		if r.code != 0 || !strings.Contains(r.apt, "install -y -qq --no-install-recommends zstd cpio") {
			t.Fatalf("exit %d, output %q, apt-get %q", r.code, r.out, r.apt)
		}
		if !strings.Contains(r.apt, "DPkg::Lock::Timeout=") {
			t.Errorf("apt-get does not wait for dpkg's lock: %q", r.apt)
		}
	})
	t.Run("a failed install names the package and the command", func(t *testing.T) {
		r := installDebs(t, []string{"FAKE_UID=0", "FAKE_BROKEN=qemu-system-x86"}, "zstd", "qemu-system-x86")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1; output %q", r.code, r.out)
		}
		for _, want := range []string{
			"could not install the Debian package qemu-system-x86 (needed by make test): E: Unable to locate package qemu-system-x86",
			"install by hand, then run this again: sudo apt-get update && sudo apt-get install qemu-system-x86\n",
		} {
			if !strings.Contains(r.out, want) {
				t.Errorf("output lacks %q:\n%s", want, r.out)
			}
		}
		if strings.Contains(r.out, "package zstd") {
			t.Errorf("output blames zstd, which installed:\n%s", r.out)
		}
	})
	t.Run("a held lock is waited for", func(t *testing.T) {
		locked := filepath.Join(t.TempDir(), "locked")
		os.WriteFile(locked, []byte("3"), 0o644)
		r := installDebs(t, []string{"FAKE_UID=0", "FAKE_LOCKED=" + locked}, "zstd")
		if r.code != 0 || !strings.Contains(r.out, "waiting for the apt lock another process holds (held by process 4242") {
			t.Fatalf("exit %d, output %q", r.code, r.out)
		}
		if u, i := strings.Count(r.apt, " update "), strings.Count(r.apt, " install -y"); u != 4 || i != 1 {
			t.Errorf("%d update and %d install tries, want 4 (3 refused for the lock) and 1:\n%s", u, i, r.apt)
		}
	})
	t.Run("the lock wait is bounded", func(t *testing.T) {
		locked := filepath.Join(t.TempDir(), "locked")
		os.WriteFile(locked, []byte("1000000"), 0o644)
		r := installDebs(t, []string{"FAKE_UID=0", "FAKE_LOCKED=" + locked, "APT_LOCK_WAIT=1"}, "zstd")
		if r.code != 1 || !strings.Contains(r.out, "an apt lock was still held after 1s") || !strings.Contains(r.out, "sudo apt-get install zstd") {
			t.Fatalf("exit %d, output %q", r.code, r.out)
		}
	})
}

// The README names exactly the packages make test installs (the Makefile's
// TEST_DEBS), and the benchmark-only tools only under make bench.
func TestREADMENamesTestPackages(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(repoRoot(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	list := func(name string) []string {
		m := regexp.MustCompile(`(?m)^` + name + ` := (.*)$`).FindSubmatch(mk)
		if m == nil {
			t.Fatalf("Makefile has no %s", name)
		}
		return strings.Fields(string(m[1]))
	}
	testDebs, benchDebs := list("TEST_DEBS"), list("BENCH_DEBS")
	readme, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := regexp.MustCompile("(?s)`make test` installs.*?\n\n").Find(readme)
	if sec == nil {
		t.Fatal("README.md has no paragraph on what `make test` installs")
	}
	for _, p := range testDebs {
		if !strings.Contains(string(sec), "`"+p+"`") {
			t.Errorf("README's make test paragraph does not name %s", p)
		}
	}
	for _, p := range benchDebs {
		if slices.Contains(testDebs, p) {
			t.Errorf("benchmark-only package %s is in TEST_DEBS", p)
		}
		if !strings.Contains(string(readme), "`"+p+"`") {
			t.Errorf("README does not name %s as make bench's", p)
		}
	}
}
