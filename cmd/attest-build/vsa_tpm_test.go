package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/verify"
	"github.com/attest-build/attest-build/tpm"
)

// slsaVerifierVersion is the slsa-verifier whose verify-vsa checks the
// summaries: the newest release the module proxy serves that builds with
// this module's Go. It is optional: a test that cannot build it skips.
const slsaVerifierVersion = "v2.7.1"

// vsaKeyHandle is the persistent handle of the TPM key that signs the
// summaries in these tests: not the build's signing key (docs/verify.md
// recommends a key of its own for summaries).
const vsaKeyHandle = tpm.DefaultSigningKeyHandle + 1

// verify --vsa --vsa-key tpm signs the summary with the TPM-resident key
// (TPM2_Sign, ECC P-256; made on first use, with no attestation key made
// beside it), which the third-party DSSE verifiers, cosign and
// slsa-verifier's verify-vsa accept with the key's public key alone, as
// they accept one signed by a key file; a TPM key whose authorization
// file is not the one it was made with signs nothing, and no summary is
// written.
func TestVerifyVSAWithTPMKey(t *testing.T) {
	sw := swtpmtest.Start(t)
	t.Chdir(t.TempDir())
	t.Setenv(provenance.KeyPasswordEnv, "")
	t.Setenv(provenance.KeyEnv, "")
	for _, prefix := range []string{"signer", "other"} {
		mustRun(t, "key", "generate", "--out", prefix)
	}
	mustRun(t, append(noIMALog(t, "--tpm", sw.Ref(), "-k", "signer.key"), "-a", "c.bin", "--", "sh", "-c", "echo c > c.bin")...)
	mustRun(t, "policy", "init", "--from", "c.bin.intoto.jsonl", "--key", "signer.pub", "-o", "policy.yaml")
	// The verifying host's TPM: another swtpm, fresh. Its key is made on
	// first use, and no attestation key with it.
	vsaTPM := swtpmtest.Start(t)
	handle := fmt.Sprintf("0x%08x", vsaKeyHandle)
	tpmFlags := []string{"--tpm", vsaTPM.Ref(), "--tpm-key-auth", "vsa.auth", "--tpm-key-handle", handle}
	const uri = "https://example.com/releases/c.bin"
	cSum := sha256File(t, "c.bin")
	mustRun(t, append(append([]string{"verify", "--policy", "policy.yaml", "--vsa", "first.vsa.intoto.jsonl", "--vsa-key", "tpm"}, tpmFlags...), "c.bin")...)
	getcap := realtest.LookPath(t, "tpm2_getcap", "tpm2-tools")
	handles, err := exec.Command(getcap, "-T", vsaTPM.TCTI(), "handles-persistent").CombinedOutput()
	if err != nil {
		t.Fatalf("tpm2_getcap: %v\n%s", err, handles)
	}
	if h := strings.ToLower(string(handles)); !strings.Contains(h, handle) || strings.Contains(h, fmt.Sprintf("0x%08x", tpm.DefaultAKHandleECC)) {
		t.Errorf("persistent handles after verify --vsa-key tpm on a fresh TPM:\n%s\nwant the signing key %s and no attestation key", handles, handle)
	}
	mustRun(t, append([]string{"tpm", "signing-key", "--out", "vsa-tpm.pub"}, tpmFlags...)...)
	readVSA(t, "first.vsa.intoto.jsonl", "vsa-tpm.pub")

	kinds := []struct {
		name, vsa, pub string
		args           []string
		by             string
	}{
		{"TPM key", "c.tpm.vsa.intoto.jsonl", "vsa-tpm.pub", append([]string{"--vsa-key", "tpm"}, tpmFlags...), "signed by TPM key "},
		{"file key", "c.file.vsa.intoto.jsonl", "other.pub", []string{"--vsa-key", "other.key"}, "signed by key "},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			args := append([]string{"verify", "--policy", "policy.yaml", "--vsa", k.vsa, "--resource-uri", uri}, k.args...)
			out := mustRun(t, append(args, "c.bin")...)
			pub, err := provenance.LoadPublicKey(mustReadFile(t, k.pub))
			if err != nil {
				t.Fatal(err)
			}
			fp, err := provenance.KeyFingerprint(pub)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, k.by+fp) {
				t.Errorf("output does not name the summary's key %q:\n%s", k.by+fp, out)
			}
			st, p := readVSA(t, k.vsa, k.pub)
			if len(st.Subject) != 1 || st.Subject[0].GetDigest()["sha256"] != cSum {
				t.Errorf("subjects %v, want c.bin sha256:%s", st.Subject, cSum)
			}
			if p.VerificationResult != verify.VSAPassed || p.ResourceURI != uri ||
				!slices.Contains(p.VerifiedLevels, verify.LevelSLSABuild1) || !slices.Contains(p.VerifiedLevels, verify.LevelTPMSoftware) {
				t.Errorf("VSA %+v", p)
			}
		})
	}

	// The TPM refuses to sign with another authorization value: the
	// command fails and writes no summary.
	other := filepath.Join(t.TempDir(), "other.auth")
	if err := os.WriteFile(other, make([]byte, provenance.TPMKeyAuthSize), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "verify", "--policy", "policy.yaml", "--vsa", "x.vsa.intoto.jsonl", "--vsa-key", "tpm",
		"--tpm", vsaTPM.Ref(), "--tpm-key-auth", other, "--tpm-key-handle", handle, "c.bin")
	if err == nil {
		t.Fatalf("verify --vsa-key tpm with a wrong authorization value succeeded:\n%s", out)
	}
	if _, err := os.Stat("x.vsa.intoto.jsonl"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a summary was written despite the refused signature: %v", err)
	}
	// The TPM key flags belong to --vsa-key tpm.
	if _, err := runCLI(t, "verify", "--policy", "policy.yaml", "--tpm", sw.Ref(), "c.bin"); exitCode(err) != 2 {
		t.Errorf("--tpm without --vsa-key tpm: exit %d (%v), want 2", exitCode(err), err)
	}

	// cosign v3 verifies each summary as a blob attestation, given the key,
	// the envelope file, the predicate type and the artifact.
	t.Run("cosign verify-blob-attestation", func(t *testing.T) {
		cosign := realtest.Cosign(t)
		if err := os.WriteFile("other.bin", []byte("not c\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		run := func(vsa, pub, artifact string) ([]byte, error) {
			// --signature: the DSSE envelope (cosign calls the flag
			// deprecated in favour of --bundle; the summary is no bundle).
			cmd := exec.Command(cosign, "verify-blob-attestation", "--key", pub, "--signature", vsa,
				"--type", verify.VSAType, "--insecure-ignore-tlog", artifact)
			cmd.Env = append(os.Environ(), "SIGSTORE_NO_CACHE=1", "TUF_ROOT="+t.TempDir())
			return cmd.CombinedOutput()
		}
		for _, k := range kinds {
			if out, err := run(k.vsa, k.pub, "c.bin"); err != nil {
				t.Errorf("cosign refuses the summary signed by the %s: %v\n%s", k.name, err, out)
			}
			if out, err := run(k.vsa, k.pub, "other.bin"); err == nil {
				t.Errorf("cosign accepts the %s's summary for another artifact:\n%s", k.name, out)
			}
			if out, err := run(k.vsa, "signer.pub", "c.bin"); err == nil {
				t.Errorf("cosign accepts the %s's summary with another public key:\n%s", k.name, out)
			}
		}
	})

	t.Run("slsa-verifier verify-vsa", func(t *testing.T) {
		sv := realtest.OptionalGoTool(t, "github.com/slsa-framework/slsa-verifier/v2/cli/slsa-verifier", slsaVerifierVersion)
		run := func(vsa, pub, digest string, levels ...string) ([]byte, error) {
			args := []string{"verify-vsa", "--attestation-path", vsa, "--public-key-path", pub,
				"--verifier-id", verify.VerifierID, "--resource-uri", uri, "--subject-digest", "sha256:" + digest}
			for _, l := range levels {
				args = append(args, "--verified-level", l)
			}
			return exec.Command(sv, args...).CombinedOutput()
		}
		for _, k := range kinds {
			if out, err := run(k.vsa, k.pub, cSum, verify.LevelSLSABuild1, verify.LevelTPMSoftware); err != nil {
				t.Errorf("slsa-verifier verify-vsa refuses the summary signed by the %s: %v\n%s", k.name, err, out)
			}
			if out, err := run(k.vsa, k.pub, strings.Repeat("0", 64)); err == nil {
				t.Errorf("slsa-verifier accepts the %s's summary for another digest:\n%s", k.name, out)
			}
			if out, err := run(k.vsa, "signer.pub", cSum); err == nil {
				t.Errorf("slsa-verifier accepts the %s's summary with another public key:\n%s", k.name, out)
			}
			if out, err := run(k.vsa, k.pub, cSum, verify.LevelTPMDevice); err == nil {
				t.Errorf("slsa-verifier accepts the %s's summary as %s:\n%s", k.name, verify.LevelTPMDevice, out)
			}
		}
	})
}
