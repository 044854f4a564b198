//go:build simulator && cgo

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The exit status of the commands that need a TPM or real attestations,
// through run, on the in-process simulator.
func TestExitCodesSimulator(t *testing.T) {
	simBuilds(t) // signer.key, c.bin with c.bin.intoto.jsonl, ...
	for name, content := range map[string]string{"e.bin": "artifact E\n", "junk": "not json\n", "bare.yaml": "version: 1\nsigners: []\n"} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir("dir", 0o755); err != nil {
		t.Fatal(err)
	}
	sim := []string{"--tpm", "sim", "-k", "signer.key"}
	build := func(args ...string) []string { return append(append([]string{}, sim...), args...) }
	checkExitCodes(t, []exitCase{
		{"tpm ak", []string{"tpm", "ak", "--tpm", "sim"}, 0, ""},
		{"tpm info", []string{"tpm", "info", "--tpm", "sim"}, 0, ""},
		{"build", build("-a", "f.bin", "--", "sh", "-c", "echo f > f.bin"), 0, "f.bin.intoto.jsonl (1 subject(s)"},
		{"build, no subject found", build("-o", "none.intoto.jsonl", "--", "true"), 1, ""},
		{"build, the build fails", build("-a", "g.bin", "--", "sh", "-c", "echo g > g.bin; exit 7"), 7, "exit status 7"},
		// A process the build leaves running is ended and reported; with
		// --leftovers refuse nothing is attested.
		{"build, a leftover process", build("-a", "h.bin", "--", "sh", "-c", "echo h > h.bin; setsid -f sleep 1000"), 0, "ended them before hashing: pid"},
		{"build, a leftover process refused", build("--leftovers", "refuse", "-a", "i.bin", "--", "sh", "-c", "echo i > i.bin; setsid -f sleep 1000"), 1, "no attestation was written"},
		{"build, bad --leftovers", build("--leftovers", "keep", "-a", "i.bin", "--", "true"), 2, "want end or refuse"},
		// The build never ran: attest-build's own failure.
		{"build, command not found", build("-a", "g.bin", "--", filepath.Join("dir", "no-such-command")), 1, "starting the build"},

		// Found before the build runs (it would touch ran.* and k.bin) and before the quotes.
		{"build, explicit --ima-log missing", build("--ima-log", "no-such.log", "-a", "k.bin", "--", "sh", "-c", "touch ran.1 k.bin"), 2,
			"--ima-log no-such.log cannot be read: no such file or directory"},
		{"build, explicit --ima-log a directory", build("--ima-log", "dir", "-a", "k.bin", "--", "sh", "-c", "touch ran.2 k.bin"), 2,
			"--ima-log dir cannot be read: is a directory"},
		{"build, output under a file", build("-o", "junk/sub/h.intoto.jsonl", "-a", "k.bin", "--", "sh", "-c", "touch ran.3 k.bin"), 2,
			"output " + filepath.Join(cwd(t), "junk/sub/h.intoto.jsonl") + " cannot be written: " + filepath.Join(cwd(t), "junk") + " is not a folder (checked before the build)"},
		// A folder the build makes is fine (dist/ of a clean tree).
		{"build, output folder made by the build", build("-o", "made/j.intoto.jsonl", "-a", "j.bin", "--", "sh", "-c", "mkdir made && echo j > j.bin"), 0, "made/j.intoto.jsonl"},
		{"build, output a directory", build("-o", "dir", "-a", "k.bin", "--", "sh", "-c", "touch ran.4 k.bin"), 2, "is a directory"},
		// --tpm sim with the kernel's log: the sim's PCR 10 was never extended by it.
		{"build, --tpm sim with a kernel log", build("--ima-log", absVMLog(t), "-a", "i.bin", "--", "sh", "-c", "echo i > i.bin"), 1,
			"the quoted PCR 10 is its initial value"},

		{"policy init", []string{"policy", "init", "--from", "c.bin.intoto.jsonl", "--key", "signer.pub", "-o", "policy.yaml"}, 0, ""},
		{"policy init, -o exists", []string{"policy", "init", "--from", "c.bin.intoto.jsonl", "-o", "policy.yaml"}, 2,
			"-o policy.yaml: the file exists (a reviewed policy?); pass --force to replace it"},
		{"policy check", []string{"policy", "check", "policy.yaml"}, 0, ""},
		// policy init without --key, then verify --key (docs/runner-setup.md);
		// policy check judges it as verify does, with the same --key.
		{"policy init, no --key", []string{"policy", "init", "--from", "c.bin.intoto.jsonl", "-o", "nosigner.yaml"}, 0, ""},
		{"policy check, no signer", []string{"policy", "check", "nosigner.yaml"}, 1, "no trusted signer key: name one under signers in the policy, or pass --key"},
		{"policy check --key", []string{"policy", "check", "nosigner.yaml", "--key", "signer.pub"}, 0, ""},
		{"verify --key", []string{"verify", "--policy", "nosigner.yaml", "--key", "signer.pub", "c.bin"}, 0, ""},
		{"policy check --key, no attestation key", []string{"policy", "check", "bare.yaml", "--key", "signer.pub"}, 1, "the policy names no trusted attestation key"},
		{"policy init, a new -o", []string{"policy", "init", "--from", "c.bin.intoto.jsonl", "--key", "signer.pub", "-o", "policy2.yaml"}, 0, ""},
		{"policy init, --force replaces", []string{"policy", "init", "--from", "c.bin.intoto.jsonl", "--key", "signer.pub", "-o", "policy2.yaml", "--force"}, 0, ""},
		{"verify", []string{"verify", "--policy", "policy.yaml", "c.bin"}, 0, ""},
		{"verify, another artifact", []string{"verify", "--policy", "policy.yaml", "--attestation", "c.bin.intoto.jsonl", "e.bin"}, 1, ""},
		{"verify, malformed attestation", []string{"verify", "--policy", "policy.yaml", "--attestation", "junk", "e.bin"}, 1, ""},
		{"verify, missing attestation", []string{"verify", "--policy", "policy.yaml", "e.bin"}, 2, "no such file"},
		{"verify, attestation is a directory", []string{"verify", "--policy", "policy.yaml", "--attestation", "dir", "e.bin"}, 2, "is a directory"},
		{"verify, missing artifact", []string{"verify", "--policy", "policy.yaml", "--attestation", "c.bin.intoto.jsonl", "missing.bin"}, 2, "no such file"},
		{"verify, artifact is a directory", []string{"verify", "--policy", "policy.yaml", "--attestation", "c.bin.intoto.jsonl", "dir"}, 2, "is a directory"},
	})
	for _, name := range []string{"g.bin.intoto.jsonl", "none.intoto.jsonl", "i.bin.intoto.jsonl", "k.bin.intoto.jsonl", "ran.1", "ran.2", "ran.3", "ran.4"} {
		if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed build wrote %s, or a build ran that should not have (%v)", name, err)
		}
	}
	if leftovers, _ := filepath.Glob(".attest-build-probe-*"); len(leftovers) > 0 {
		t.Errorf("the output check left %v behind", leftovers)
	}
}

// An interrupted build: SIGTERM or SIGINT sent to attest-build (the built
// binary) while the build runs is forwarded to the build; attest-build exits
// with the build's status (128+N when the signal killed it, the build's own
// when it caught the signal and exited) and writes no attestation.
func TestInterruptedBuildExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "attest-build")
	gobuild := exec.Command("go", "build", "-tags", "simulator", "-o", bin, ".")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if _, _, code := runMain(t, "", "key", "generate", "--out", filepath.Join(dir, "signing")); code != 0 {
		t.Fatalf("key generate: exit %d", code)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		trap bool // the build catches the signal and exits 3
		code int
	}{
		{syscall.SIGTERM, false, 128 + int(syscall.SIGTERM)},
		{syscall.SIGINT, false, 128 + int(syscall.SIGINT)},
		{syscall.SIGTERM, true, 3},
	} {
		sig := tc.sig
		name := fmt.Sprintf("%v, trapped %v", sig, tc.trap)
		t.Run(name, func(t *testing.T) {
			sub := t.TempDir()
			started := filepath.Join(sub, "started")
			trapped := filepath.Join(sub, "trapped")
			out := filepath.Join(sub, "out.intoto.jsonl")
			// The build notes that it runs, then sleeps (killed by the
			// signal) or waits in a shell that traps it.
			script := `touch "$1"; exec sleep 60`
			if tc.trap {
				script = `trap 'touch "$2"; exit 3' TERM INT; touch "$1"; while :; do sleep 0.05; done`
			}
			cmd := exec.Command(bin, "--tpm", "sim", "-k", filepath.Join(dir, "signing.key"), "-o", out, "-a", "x",
				"--", "sh", "-c", script, "sh", started, trapped)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "ATTEST_BUILD_KEY=", "ATTEST_BUILD_KEY_PASSWORD=")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				if _, err := os.Stat(started); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatal("the build did not start within 60 s")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
				t.Fatalf("attest-build after %v: %v, want exit status %d", sig, err, tc.code)
			}
			if _, err := os.Stat(trapped); tc.trap && err != nil {
				t.Errorf("the build did not get %v: %v", sig, err)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an interrupted build wrote its attestation (%v)", err)
			}
		})
	}

	// SIGINT while attest-build waits for a TPM that does not answer (a
	// socket that accepts and stays silent) ends it at once, exit 130.
	t.Run("SIGINT while waiting for the TPM", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			if c, err := l.Accept(); err == nil {
				accepted <- c
			}
		}()
		cmd := exec.Command(bin, "tpm", "info", "--tpm", "swtpm:"+sock)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		select {
		case c := <-accepted: // the command is sent; attest-build waits for the answer
			defer c.Close()
		case <-time.After(60 * time.Second):
			t.Fatal("attest-build did not connect within 60 s")
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(20 * time.Second): // the response deadline is 2 minutes
			t.Fatal("attest-build still waiting for the TPM 20 s after SIGINT")
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGINT) || !strings.Contains(stderr.String(), "interrupted by interrupt") {
			t.Fatalf("after SIGINT: %v, want exit status %d and 'interrupted by interrupt'; stderr:\n%s", err, 128+int(syscall.SIGINT), stderr.String())
		}
	})

	// SIGINT while the artifact is hashed (a 256 GiB sparse file: minutes
	// of hashing) ends attest-build at once, with nothing written.
	t.Run("SIGINT while hashing", func(t *testing.T) {
		sub := t.TempDir()
		big := filepath.Join(sub, "big.img")
		out := filepath.Join(sub, "big.intoto.jsonl")
		cmd := exec.Command(bin, "--tpm", "sim", "-k", filepath.Join(dir, "signing.key"), "-o", out, "-a", "big.img",
			"--", "truncate", "-s", "256G", "big.img")
		cmd.Dir = sub
		cmd.Env = append(os.Environ(), "ATTEST_BUILD_KEY=", "ATTEST_BUILD_KEY_PASSWORD=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		// Hashing has begun when attest-build holds the artifact open.
		hashing := func() bool {
			fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
			for _, fd := range fds {
				if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", cmd.Process.Pid, fd.Name())); l == big {
					return true
				}
			}
			return false
		}
		for deadline := time.Now().Add(120 * time.Second); !hashing(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("attest-build did not start hashing within 120 s; stderr:\n%s", stderr.String())
			}
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(20 * time.Second): // hashing 256 GiB takes minutes
			t.Fatal("attest-build still hashing 20 s after SIGINT")
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGINT) {
			t.Fatalf("after SIGINT while hashing: %v, want exit status %d; stderr:\n%s", err, 128+int(syscall.SIGINT), stderr.String())
		}
		left, _ := os.ReadDir(sub)
		if len(left) != 1 || left[0].Name() != "big.img" {
			var names []string
			for _, e := range left {
				names = append(names, e.Name())
			}
			t.Errorf("left behind: %v, want only big.img", names)
		}
	})
}

func cwd(t *testing.T) string {
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// absVMLog is vmLog from any working directory.
func absVMLog(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), vmLog)
}
