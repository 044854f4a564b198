package provenance_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/attest-build/attest-build/provenance"
)

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		script string
		status int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -KILL $$", 128 + 9},
	}
	for _, tt := range tests {
		res, err := provenance.Run(context.Background(), provenance.Command{Argv: []string{"sh", "-c", tt.script}})
		if err != nil {
			t.Fatalf("%s: %v", tt.script, err)
		}
		if res.ExitStatus != tt.status || res.Failed() != (tt.status != 0) || res.Interrupted() {
			t.Fatalf("%s: status %d failed %t interrupted %t, want status %d", tt.script, res.ExitStatus, res.Failed(), res.Interrupted(), tt.status)
		}
	}
}

func TestRunNotFound(t *testing.T) {
	if _, err := provenance.Run(context.Background(), provenance.Command{Argv: []string{"/nonexistent/build"}}); err == nil {
		t.Fatal("a build that cannot start is not an error")
	}
}

// The build gets the caller's streams and environment, runs in the given
// directory, in its own process group.
func TestRunStreamsEnvGroup(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	res, err := provenance.Run(context.Background(), provenance.Command{
		Argv:  []string{"sh", "-c", `read line; echo "$line $FOO $(pwd)"; echo err >&2; ps -o pgid= -p $$`},
		Dir:   dir,
		Env:   []string{"FOO=bar", "PATH=" + os.Getenv("PATH")},
		Stdin: strings.NewReader("in\n"), Stdout: &out, Stderr: &errOut,
	})
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("run: %v %+v", err, res)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	real, _ := filepath.EvalSymlinks(dir)
	if len(lines) != 2 || lines[0] != "in bar "+real {
		t.Fatalf("stdout %q", out.String())
	}
	if pgid := strings.TrimSpace(lines[1]); pgid == "" || pgid == strconv.Itoa(syscall.Getpgrp()) {
		t.Fatalf("build's process group %q is attest-build's own (%d)", pgid, syscall.Getpgrp())
	}
	if errOut.String() != "err\n" {
		t.Fatalf("stderr %q", errOut.String())
	}
}

// SIGTERM sent to attest-build reaches the build (and its children); the
// build's exit status is reported and the run counts as interrupted.
func TestRunForwardsSIGTERM(t *testing.T) {
	dir := t.TempDir()
	ready, got := filepath.Join(dir, "ready"), filepath.Join(dir, "got")
	go func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(ready); err == nil {
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
				return
			}
		}
	}()
	res, err := provenance.Run(context.Background(), provenance.Command{
		Argv: []string{"sh", "-c", `trap 'echo TERM > "$1"; exit 7' TERM; touch "$2"; while :; do sleep 0.01; done`, "sh", got, ready},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != 7 || res.Signal != syscall.SIGTERM || !res.Failed() {
		t.Fatalf("status %d signal %v, want 7 and SIGTERM", res.ExitStatus, res.Signal)
	}
	if b, err := os.ReadFile(got); err != nil || string(b) != "TERM\n" {
		t.Fatalf("the build did not see SIGTERM: %q %v", b, err)
	}
}

// The build never sees the variables that may hold the signing key or its
// password, whether the environment is the caller's or given.
func TestRunHidesKeyEnv(t *testing.T) {
	secrets := map[string]string{
		"ATTEST_BUILD_KEY":          "-----BEGIN PRIVATE KEY-----\nMIGHAgEAsecret\n-----END PRIVATE KEY-----",
		"ATTEST_BUILD_KEY_PASSWORD": "hunter2",
		"INPUT_KEY":                 "-----BEGIN PRIVATE KEY-----\nMIGHAgEAinput",
		"INPUT_KEY-PASSWORD":        "hunter3",
		"INPUT_KEY_PASSWORD":        "hunter4",
	}
	given := []string{"KEEP=1", "PATH=" + os.Getenv("PATH")}
	for k, v := range secrets {
		given = append(given, k+"="+v)
		t.Setenv(k, v) // INPUT_KEY-PASSWORD: Setenv accepts the hyphen as the runner does
	}
	t.Setenv("KEEP", "1")
	for _, env := range [][]string{nil, given} {
		var out bytes.Buffer
		res, err := provenance.Run(context.Background(), provenance.Command{Argv: []string{"env"}, Env: env, Stdout: &out})
		if err != nil || res.ExitStatus != 0 {
			t.Fatalf("env: %v %+v", err, res)
		}
		if !strings.Contains(out.String(), "\nKEEP=1\n") && !strings.HasPrefix(out.String(), "KEEP=1\n") {
			t.Fatalf("caller's env %t: KEEP=1 missing from the build's environment:\n%s", env == nil, out.String())
		}
		for k, v := range secrets {
			if strings.Contains(out.String(), k+"=") || strings.Contains(out.String(), v) {
				t.Errorf("caller's env %t: the build sees %s:\n%s", env == nil, k, out.String())
			}
		}
	}
}
