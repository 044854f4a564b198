//go:build simulator && cgo

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The exit status of the commands that need a TPM or real attestations,
// through run, on the in-process simulator.
func TestExitCodesSimulator(t *testing.T) {
	simBuilds(t) // signer.key, c.bin with c.bin.intoto.jsonl, ...
	for name, content := range map[string]string{"e.bin": "artifact E\n", "junk": "not json\n"} {
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

		{"policy init", []string{"policy", "init", "--from", "c.bin.intoto.jsonl", "--key", "signer.pub", "-o", "policy.yaml"}, 0, ""},
		{"policy check", []string{"policy", "check", "policy.yaml"}, 0, ""},
		{"verify", []string{"verify", "--policy", "policy.yaml", "c.bin"}, 0, ""},
		{"verify, another artifact", []string{"verify", "--policy", "policy.yaml", "--attestation", "c.bin.intoto.jsonl", "e.bin"}, 1, ""},
		{"verify, malformed attestation", []string{"verify", "--policy", "policy.yaml", "--attestation", "junk", "e.bin"}, 1, ""},
		{"verify, missing attestation", []string{"verify", "--policy", "policy.yaml", "e.bin"}, 2, "no such file"},
		{"verify, attestation is a directory", []string{"verify", "--policy", "policy.yaml", "--attestation", "dir", "e.bin"}, 2, "is a directory"},
		{"verify, missing artifact", []string{"verify", "--policy", "policy.yaml", "--attestation", "c.bin.intoto.jsonl", "missing.bin"}, 2, "no such file"},
		{"verify, artifact is a directory", []string{"verify", "--policy", "policy.yaml", "--attestation", "c.bin.intoto.jsonl", "dir"}, 2, "is a directory"},
	})
	for _, name := range []string{"g.bin.intoto.jsonl", "none.intoto.jsonl", "i.bin.intoto.jsonl"} {
		if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed build wrote %s (%v)", name, err)
		}
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
}
