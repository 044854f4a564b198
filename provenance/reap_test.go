package provenance_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/attest-build/attest-build/provenance"
)

// leftoverScripts start a process that outlives the build's top process in
// each way the review found: in the build's process group, double-forked
// (its parent exits, so it is an orphan), and in a session of its own
// (setsid). Each writes its PID to the file named by $1 before the top
// process exits.
var leftoverScripts = map[string]string{
	"same group":                     `sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > "$1"`,
	"double fork":                    `sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > "$1"' sh "$1"`,
	"setsid":                         `setsid sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > "$1"' sh "$1" & wait`,
	"orphan in a session of its own": `setsid -f sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > "$1"' sh "$1"; while [ ! -s "$1" ]; do sleep 0.01; done`,
}

// Run ends every process the build leaves running before it returns, and
// reports each; with and without a cgroup of the build's own.
func TestRunEndsLeftovers(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid(1) not installed (util-linux)")
	}
	for _, cgroup := range []bool{true, false} {
		for name, script := range leftoverScripts {
			t.Run(name+map[bool]string{true: "", false: ", no cgroup"}[cgroup], func(t *testing.T) {
				if !cgroup {
					provenance.WithoutCgroup(t)
				}
				pidFile := filepath.Join(t.TempDir(), "pid")
				res, err := provenance.Run(context.Background(), provenance.Command{Argv: []string{"sh", "-c", script, "sh", pidFile}})
				pid := readPID(t, pidFile)
				if err != nil {
					t.Fatal(err)
				}
				if res.Failed() {
					t.Fatalf("the build failed: %+v", res)
				}
				assertEnded(t, pid)
				var found bool
				for _, e := range res.Ended {
					found = found || e.PID == pid
				}
				if !found {
					t.Errorf("RunResult.Ended %v does not list the leftover, pid %d", res.Ended, pid)
				}
				if cgroup && res.Cgroup == "" {
					t.Logf("no cgroup: %s", res.CgroupNote)
				}
			})
		}
	}
}

// A build that leaves nothing running reports nothing.
func TestRunEndsNothingWhenClean(t *testing.T) {
	res, err := provenance.Run(context.Background(), provenance.Command{Argv: []string{"sh", "-c", "sleep 0 & wait"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ended) != 0 {
		t.Errorf("ended %v after a build that left nothing running", res.Ended)
	}
}

// Leftovers of a build run as another user are ended too (attest-build as
// root; as an unprivileged user through the build's cgroup).
func TestRunEndsLeftoversOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the build as another user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv(1) not installed (util-linux)")
	}
	for _, cgroup := range []bool{true, false} {
		t.Run(map[bool]string{true: "cgroup", false: "no cgroup"}[cgroup], func(t *testing.T) {
			if !cgroup {
				provenance.WithoutCgroup(t)
			}
			// t.TempDir's parent is private to root.
			dir, err := os.MkdirTemp("", "leftover-other-user-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			pidFile := filepath.Join(dir, "pid")
			res, err := provenance.Run(context.Background(), provenance.Command{Argv: []string{
				"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", leftoverScripts["setsid"], "sh", pidFile}})
			pid := readPID(t, pidFile)
			if err != nil {
				t.Fatal(err)
			}
			assertEnded(t, pid)
			if len(res.Ended) == 0 || res.Ended[len(res.Ended)-1].UID != 65534 {
				t.Errorf("RunResult.Ended %v, want the leftover of uid 65534", res.Ended)
			}
		})
	}
}

// readPID reads the PID a leftover wrote and makes sure it is killed when
// the test ends, whatever Run did.
func readPID(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the build did not record its leftover's PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("leftover PID %q: %v", b, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// assertEnded fails unless pid is gone: neither running nor a zombie.
func assertEnded(t *testing.T, pid int) {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Errorf("the build's leftover process %d is still there after Run returned: %s", pid, stat)
}
