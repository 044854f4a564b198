//go:build simulator && cgo

package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/buildinfo"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// verifyJSON is the --format json output of verify.
type verifyJSON struct {
	Verdict verify.Status `json:"verdict"`
	Results []struct {
		Attestation string               `json:"attestation"`
		Artifacts   []string             `json:"artifacts"`
		Verdict     verify.Status        `json:"verdict"`
		Error       string               `json:"error"`
		Checks      []verify.CheckResult `json:"checks"`
		Facts       verify.Facts         `json:"facts"`
	} `json:"results"`
	Tool *buildinfo.Info `json:"tool"`
}

func decodeVerifyJSON(t *testing.T, out string) verifyJSON {
	t.Helper()
	var v verifyJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("verify --format json output: %v\n%s", err, out)
	}
	// The report names the attest-build that made it.
	if v.Tool == nil || *v.Tool != buildinfo.Read() || v.Tool.GoVersion == "" {
		t.Fatalf("verify --format json: tool %+v, want %+v", v.Tool, buildinfo.Read())
	}
	return v
}

// simBuilds makes, in a fresh working directory, a signing key and three
// attestations with the in-process simulator: multi.intoto.jsonl for
// out/a.bin and out/b.bin, and c.bin.intoto.jsonl and d.bin.intoto.jsonl
// beside c.bin and d.bin.
func simBuilds(t *testing.T) {
	t.Helper()
	t.Chdir(t.TempDir())
	t.Setenv(provenance.KeyPasswordEnv, "")
	t.Setenv(provenance.KeyEnv, "")
	for _, prefix := range []string{"signer", "other"} {
		if out, err := runCLI(t, "key", "generate", "--out", prefix); err != nil {
			t.Fatalf("key generate: %v\n%s", err, out)
		}
	}
	for _, args := range [][]string{
		{"-o", "multi.intoto.jsonl", "-a", "out/*.bin", "--", "sh", "-c", "mkdir out && echo a > out/a.bin && echo b > out/b.bin"},
		{"-a", "c.bin", "--", "sh", "-c", "echo c > c.bin"},
		{"-a", "d.bin", "--", "sh", "-c", "echo d > d.bin"},
	} {
		out, err := runCLI(t, append([]string{"--tpm", "sim", "-k", "signer.key"}, args...)...)
		if err != nil {
			t.Fatalf("build %q: %v\n%s", args, err, out)
		}
	}
}

// The CLI over real simulator attestations: policy init and check, verify
// with text and json output, several artifacts and attestations, --key,
// --attestation, and the exit status of each outcome.
func TestVerifyCLISimulator(t *testing.T) {
	simBuilds(t)
	if out, err := runCLI(t, "policy", "init", "--from", "c.bin.intoto.jsonl", "--key", "signer.pub", "-o", "policy.yaml"); err != nil {
		t.Fatalf("policy init: %v\n%s", err, out)
	}
	out, err := runCLI(t, "policy", "check", "policy.yaml")
	if err != nil || out != "policy.yaml: ok\n" {
		t.Fatalf("policy check: %v %q", err, out)
	}
	// Without --key the policy names no signer: verify needs --key.
	stdout, err := runCLI(t, "policy", "init", "--from", "c.bin.intoto.jsonl")
	if err != nil {
		t.Fatalf("policy init to stdout: %v\n%s", err, stdout)
	}
	if _, err := policy.ParsePolicy([]byte(stdout), "stdout"); err != nil {
		t.Fatalf("the policy printed to stdout does not load: %v", err)
	}
	if err := os.WriteFile("policy-nokey.yaml", []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("e.bin", []byte("artifact E\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("text, several artifacts of one attestation", func(t *testing.T) {
		out, err := runCLI(t, "verify", "--policy", "policy.yaml", "--attestation", "multi.intoto.jsonl", "out/a.bin", "out/b.bin")
		if code := exitCode(err); code != 0 {
			t.Fatalf("exit %d (%v), want 0\n%s", code, err, out)
		}
		first, _, _ := strings.Cut(out, "\n")
		if want := "PASS  out/a.bin, out/b.bin (multi.intoto.jsonl)"; first != want {
			t.Errorf("first line %q, want %q", first, want)
		}
		for _, c := range verify.AllChecks() {
			if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "ok   "+string(c)) }) {
				t.Errorf("no passed line for check %s in\n%s", c, out)
			}
		}
	})

	t.Run("json, two attestations by default name", func(t *testing.T) {
		out, err := runCLI(t, "verify", "--policy", "policy.yaml", "--format", "json", "c.bin", "d.bin")
		if code := exitCode(err); code != 0 {
			t.Fatalf("exit %d (%v), want 0\n%s", code, err, out)
		}
		v := decodeVerifyJSON(t, out)
		if v.Verdict != verify.StatusPass || len(v.Results) != 2 {
			t.Fatalf("verdict %s, %d results; want pass, 2", v.Verdict, len(v.Results))
		}
		for i, name := range []string{"c.bin", "d.bin"} {
			r := v.Results[i]
			if r.Attestation != name+".intoto.jsonl" || !slices.Equal(r.Artifacts, []string{name}) || r.Verdict != verify.StatusPass || r.Error != "" {
				t.Errorf("result %d: %s %v %s %q", i, r.Attestation, r.Artifacts, r.Verdict, r.Error)
			}
			var checks []verify.Check
			for _, c := range r.Checks {
				checks = append(checks, c.Check)
				if c.Status != verify.StatusPass {
					t.Errorf("%s: check %s is %s", name, c.Check, c.Status)
				}
			}
			if !slices.Equal(checks, verify.AllChecks()) {
				t.Errorf("%s: checks %v, want %v", name, checks, verify.AllChecks())
			}
			if r.Facts.TPMMode != "sim" || len(r.Facts.Subjects) != 1 || r.Facts.Subjects[0].Name != name || r.Facts.AKFingerprint == "" {
				t.Errorf("%s: facts %+v", name, r.Facts)
			}
		}
	})

	// fails runs verify --format json and wants exit 1 with check failed.
	fails := func(t *testing.T, check verify.Check, args ...string) {
		t.Helper()
		out, err := runCLI(t, append([]string{"verify", "--format", "json"}, args...)...)
		if code := exitCode(err); code != 1 {
			t.Fatalf("exit %d (%v), want 1\n%s", code, err, out)
		}
		v := decodeVerifyJSON(t, out)
		if v.Verdict != verify.StatusFail {
			t.Fatalf("verdict %s, want fail", v.Verdict)
		}
		var failed []verify.CheckResult
		for _, r := range v.Results {
			for _, c := range r.Checks {
				if c.Status == verify.StatusFail {
					failed = append(failed, c)
				}
			}
		}
		if len(failed) != 1 || failed[0].Check != check || failed[0].Expected == "" || failed[0].Found == "" {
			t.Fatalf("failed checks %+v, want one %s with expected and found", failed, check)
		}
	}
	t.Run("another artifact: exit 1, subjects", func(t *testing.T) {
		fails(t, verify.CheckSubjects, "--policy", "policy.yaml", "--attestation", "c.bin.intoto.jsonl", "e.bin")
	})
	t.Run("one of two attestations fails: exit 1", func(t *testing.T) {
		fails(t, verify.CheckSubjects, "--policy", "policy.yaml", "--attestation", "multi.intoto.jsonl", "out/a.bin", "c.bin")
	})
	t.Run("text output of a failure", func(t *testing.T) {
		out, err := runCLI(t, "verify", "--policy", "policy.yaml", "--attestation", "c.bin.intoto.jsonl", "e.bin")
		if code := exitCode(err); code != 1 {
			t.Fatalf("exit %d (%v), want 1", code, err)
		}
		if !strings.HasPrefix(out, "FAIL  e.bin (c.bin.intoto.jsonl)\n") || !strings.Contains(out, "    FAIL subjects") {
			t.Errorf("text report:\n%s", out)
		}
	})
	t.Run("--key adds a signer", func(t *testing.T) {
		out, err := runCLI(t, "verify", "--policy", "policy-nokey.yaml", "--key", "signer.pub", "c.bin")
		if code := exitCode(err); code != 0 {
			t.Fatalf("exit %d (%v), want 0\n%s", code, err, out)
		}
	})
	t.Run("--key of another signer: exit 1, signature", func(t *testing.T) {
		fails(t, verify.CheckSignature, "--policy", "policy-nokey.yaml", "--key", "other.pub", "c.bin")
	})

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no signer key at all", []string{"verify", "--policy", "policy-nokey.yaml", "c.bin"}},
		{"bad format", []string{"verify", "--policy", "policy.yaml", "--format", "yaml", "c.bin"}},
		{"no policy", []string{"verify", "c.bin"}},
		{"no artifact", []string{"verify", "--policy", "policy.yaml"}},
		{"missing artifact", []string{"verify", "--policy", "policy.yaml", "missing.bin"}},
		{"missing attestation", []string{"verify", "--policy", "policy.yaml", "e.bin"}},
		{"unreadable key", []string{"verify", "--policy", "policy.yaml", "--key", "missing.pub", "c.bin"}},
		{"policy init without --from", []string{"policy", "init"}},
		{"policy init, missing --from", []string{"policy", "init", "--from", "missing.intoto.jsonl"}},
		{"policy init, bad scope", []string{"policy", "init", "--from", "c.bin.intoto.jsonl", "--scope", "forever"}},
	} {
		t.Run("exit 2: "+tc.name, func(t *testing.T) {
			out, err := runCLI(t, tc.args...)
			if code := exitCode(err); code != 2 {
				t.Errorf("exit %d (%v), want 2\n%s", code, err, out)
			}
		})
	}

	t.Run("policy check names the line", func(t *testing.T) {
		if err := os.WriteFile("bad.yaml", []byte("version: 1\nsigners: []\ntpmModes: [mainframe]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := runCLI(t, "policy", "check", "bad.yaml")
		var pe *policy.PolicyError
		if exitCode(err) != 1 || !errors.As(err, &pe) || pe.Line != 3 {
			t.Fatalf("err %v, want exit 1 with a *PolicyError at line 3", err)
		}
	})
	t.Run("policy init from a tampered attestation: exit 1", func(t *testing.T) {
		data, err := os.ReadFile("c.bin.intoto.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(data), `"payload":"`) + len(`"payload":"`) + 40
		if data[i] == 'A' {
			data[i] = 'B'
		} else {
			data[i] = 'A'
		}
		bad := filepath.Join(t.TempDir(), "bad.intoto.jsonl")
		if err := os.WriteFile(bad, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = runCLI(t, "policy", "init", "--from", bad, "--key", "signer.pub")
		if exitCode(err) != 1 || !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("err %v, want exit 1 matching ErrVerification", err)
		}
	})
}
