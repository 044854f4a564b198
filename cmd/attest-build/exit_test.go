package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/provenance"
)

// exitCase is one command line and the exit status run gives it.
type exitCase struct {
	name string
	args []string
	code int
	// stderr, when set, must appear in what run printed on stderr.
	stderr string
}

// checkExitCodes runs each case through run, as main does.
func checkExitCodes(t *testing.T, cases []exitCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runMain(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("%q: stderr lacks %q:\n%s", tc.args, tc.stderr, stderr)
			}
			if code != 0 && !strings.HasPrefix(stderr, "attest-build: ") && !strings.Contains(stdout, "FAIL") {
				t.Errorf("%q: exit %d without a reason on stderr:\n%s", tc.args, code, stderr)
			}
		})
	}
}

// The exit status of every command that needs no TPM, through run: 0
// success, 1 malformed input or a failed check, 2 usage errors and input
// files that cannot be read (missing, a directory, no permission).
func TestExitCodes(t *testing.T) {
	t.Setenv(provenance.KeyEnv, "")
	t.Setenv(provenance.KeyPasswordEnv, "")
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	truncated := writeVMLogVariant(t, "truncated.bin", func(b []byte) []byte { return b[:len(b)-3] })
	mismatch := writeVMLogVariant(t, "mismatch.bin", func(b []byte) []byte { b[4] ^= 1; return b })
	junk := write("junk", "not json, not a log, not a key\n", 0o644)
	policy := write("policy.yaml", "version: 1\nsigners: []\n", 0o644)
	badPolicy := write("bad.yaml", "version: 1\nsigners: []\ntpmModes: [mainframe]\n", 0o644)
	misspelt := write("misspelt.yaml", "version: 1\nsigners: []\ntpmMode: [sim]\n", 0o644)
	misspeltIMA := write("misspelt-ima.yaml", "version: 1\nima:\n  alow: []\n", 0o644)
	// Keylime runtime policies load in the background during verify: their
	// errors still come first, before the missing signer key's (exit 2).
	write("bad-runtime-policy.json", `{"meta":{"version":7}}`, 0o644)
	badKeylime := write("bad-keylime.yaml", "version: 1\nsigners: []\nima:\n  keylimeRuntimePolicy: [bad-runtime-policy.json]\n", 0o644)
	missingKeylime := write("missing-keylime.yaml", "version: 1\nsigners: []\nima:\n  keylimeRuntimePolicy: [missing.json]\n", 0o644)
	noRead := write("noread", "x", 0o000)
	if f, err := os.Open(noRead); err == nil {
		f.Close()
		noRead = "" // root reads anything: no permission case
		t.Log("the permission-denied cases are not run: this user (root) can read a mode-000 file")
	}

	cases := []exitCase{
		{"ima replay", []string{"ima", "replay", "--log", vmLog}, 0, ""},
		{"ima replay --match", []string{"ima", "replay", "--log", vmLog, "--match", "4af79a5e79a3e06675d7785b3be6e45537d47adb0a9b3042f6e71e6fb9c9347d"}, 0, ""},
		{"ima replay, truncated log", []string{"ima", "replay", "--log", truncated}, 1, "truncated"},
		{"ima replay, template hash mismatch", []string{"ima", "replay", "--log", mismatch}, 1, "entry 0 at byte offset 0: template hash mismatch"},
		{"ima replay, no prefix", []string{"ima", "replay", "--log", vmLog, "--match", strings.Repeat("ab", 32)}, 1, ""},
		{"ima replay, malformed", []string{"ima", "replay", "--log", junk}, 1, ""},
		{"ima replay, missing log", []string{"ima", "replay", "--log", missing}, 2, "no such file"},
		{"ima replay, log is a directory", []string{"ima", "replay", "--log", dir}, 2, "is a directory"},
		{"ima replay, --pcr 99", []string{"ima", "replay", "--log", vmLog, "--pcr", "99"}, 2, "--pcr 99"},
		{"ima replay, --pcr abc", []string{"ima", "replay", "--log", vmLog, "--pcr", "abc"}, 2, ""},
		{"ima replay, no --log", []string{"ima", "replay"}, 2, `required flag(s) "log"`},
		{"ima show", []string{"ima", "show", "--log", vmLog}, 0, ""},
		{"ima show, truncated log", []string{"ima", "show", "--log", truncated}, 1, ""},
		{"ima show, missing log", []string{"ima", "show", "--log", missing}, 2, ""},
		{"ima show, log is a directory", []string{"ima", "show", "--log", dir}, 2, ""},
		{"ima", []string{"ima"}, 2, "missing subcommand"},
		{"ima bogus", []string{"ima", "bogus"}, 2, `unknown command "bogus"`},

		{"tpm", []string{"tpm"}, 2, "missing subcommand"},
		{"tpm bogus", []string{"tpm", "bogus"}, 2, `unknown command "bogus"`},
		{"tpm info, no such device", []string{"tpm", "info", "--tpm", missing}, 1, ""},
		{"tpm ak, no such device", []string{"tpm", "ak", "--tpm", missing}, 1, ""},
		{"tpm ak, bad --ak-alg", []string{"tpm", "ak", "--ak-alg", "dsa"}, 2, ""},
		{"tpm info, extra argument", []string{"tpm", "info", "extra"}, 2, ""},

		{"key generate", []string{"key", "generate", "--out", filepath.Join(dir, "signing")}, 0, ""},
		{"key generate, existing files", []string{"key", "generate", "--out", filepath.Join(dir, "signing")}, 1, ""},
		{"key generate, bad --algorithm", []string{"key", "generate", "--out", filepath.Join(dir, "other"), "--algorithm", "dsa"}, 2, ""},
		{"key generate, no --out", []string{"key", "generate"}, 2, ""},
		{"key", []string{"key"}, 2, "missing subcommand"},
		{"key bogus", []string{"key", "bogus"}, 2, ""},

		{"build, no command", []string{}, 2, "no build command"},
		{"build, unknown command", []string{"verfy"}, 2, `did you mean "verify"`},
		{"build, unknown flag", []string{"--bogus", "--", "true"}, 2, "unknown flag"},
		{"build, no key", []string{"--tpm", "sim", "--", "true"}, 2, "no signing key"},
		{"build, --pcrs without PCR 10", []string{"--pcrs", "sha1:0", "-k", missing, "--", "true"}, 2, "must include PCR 10"},
		{"build, --pcrs unknown bank", []string{"--pcrs", "sha999:1", "-k", missing, "--", "true"}, 2, "unknown bank"},
		{"build, missing key file", []string{"-k", missing, "--tpm", missing, "--", "true"}, 2, "no such file"},
		{"build, key file is a directory", []string{"-k", dir, "--tpm", missing, "--", "true"}, 2, "is a directory"},
		{"build, malformed key file", []string{"-k", junk, "--tpm", missing, "--", "true"}, 1, ""},

		{"verify, no artifact", []string{"verify", "--policy", policy}, 2, ""},
		{"verify, no --policy", []string{"verify", junk}, 2, `required flag(s) "policy"`},
		{"verify, missing policy", []string{"verify", "--policy", missing, junk}, 2, ""},
		{"verify, policy is a directory", []string{"verify", "--policy", dir, junk}, 2, ""},
		{"verify, malformed policy", []string{"verify", "--policy", badPolicy, junk}, 1, "bad.yaml:3:"},
		{"verify, malformed Keylime runtime policy", []string{"verify", "--policy", badKeylime, junk}, 1, "bad-keylime.yaml:4: ima.keylimeRuntimePolicy[0]"},
		{"verify, missing Keylime runtime policy", []string{"verify", "--policy", missingKeylime, junk}, 2, "missing.json"},
		// The policy names no attestation key: no verifier can be made.
		{"verify, no signer key", []string{"verify", "--policy", policy, junk}, 2, ""},
		{"verify, missing --key", []string{"verify", "--policy", policy, "--key", missing, junk}, 2, ""},
		{"verify, malformed --key", []string{"verify", "--policy", policy, "--key", junk, junk}, 1, ""},

		{"policy", []string{"policy"}, 2, "missing subcommand"},
		{"policy bogus", []string{"policy", "bogus"}, 2, ""},
		// verify would refuse it: no trusted signer key (policy check and
		// verify make the same checks).
		{"policy check, no signer key", []string{"policy", "check", policy}, 1, "no trusted signer key: name one under signers in the policy, or pass --key"},
		{"policy check, misspelt key", []string{"policy", "check", misspelt}, 1,
			`misspelt.yaml:3: invalid policy: unknown key "tpmMode" (known here: version, signers, builders, attestationKeyCAs, builderIds, tpmModes, pcrs, ima, boot, maxAge, source); did you mean "tpmModes"?`},
		{"policy check, misspelt nested key", []string{"policy", "check", misspeltIMA}, 1, `unknown key "alow" (known here: required, scope,`},
		{"policy check, malformed", []string{"policy", "check", badPolicy}, 1, "bad.yaml:3:"},
		{"policy check, missing", []string{"policy", "check", missing}, 2, ""},
		{"policy check, a directory", []string{"policy", "check", dir}, 2, ""},
		{"policy check, no file", []string{"policy", "check"}, 2, ""},
		{"policy init, malformed attestation", []string{"policy", "init", "--from", junk}, 1, ""},
		{"policy init, missing attestation", []string{"policy", "init", "--from", missing}, 2, ""},
		{"policy init, attestation is a directory", []string{"policy", "init", "--from", dir}, 2, ""},
		{"policy init, malformed --key", []string{"policy", "init", "--from", junk, "--key", junk}, 1, ""},
		{"policy init, no --from", []string{"policy", "init"}, 2, ""},

		{"inspect, malformed", []string{"inspect", junk}, 1, ""},
		{"inspect, missing", []string{"inspect", missing}, 2, ""},
		{"inspect, a directory", []string{"inspect", dir}, 2, ""},
		{"inspect, no file", []string{"inspect"}, 2, ""},
		{"inspect, bad --format", []string{"inspect", "--format", "yaml", junk}, 2, ""},

		{"help", []string{"help", "verify"}, 0, ""},
		{"help, unknown topic", []string{"help", "bogus"}, 2, "unknown help topic"},
		{"completion", []string{"completion", "bash"}, 0, ""},
		{"completion, unknown shell", []string{"completion", "tcsh"}, 2, ""},
	}
	if noRead != "" {
		cases = append(cases,
			exitCase{"inspect, no permission", []string{"inspect", noRead}, 2, "permission denied"},
			exitCase{"ima replay, no permission", []string{"ima", "replay", "--log", noRead}, 2, "permission denied"},
			exitCase{"policy check, no permission", []string{"policy", "check", noRead}, 2, "permission denied"},
		)
	}
	checkExitCodes(t, cases)
}
