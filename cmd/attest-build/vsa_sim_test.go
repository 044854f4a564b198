//go:build simulator && cgo

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/provenance/verify"
)

// verify --vsa writes a signed VSA v1 the third-party verifiers accept, with
// every field the specification asks for; a failed verification writes a
// FAILED summary with no level.
func TestVerifyVSA(t *testing.T) {
	simBuilds(t) // signer.key, other.key, c.bin and c.bin.intoto.jsonl, ...
	if out, err := runCLI(t, "policy", "init", "--from", "c.bin.intoto.jsonl", "--key", "signer.pub", "-o", "policy.yaml"); err != nil {
		t.Fatalf("policy init: %v\n%s", err, out)
	}
	out, err := runCLI(t, "verify", "--policy", "policy.yaml", "--vsa", "c.vsa.intoto.jsonl", "--vsa-key", "other.key",
		"--resource-uri", "https://example.com/releases/c.bin", "c.bin")
	if err != nil {
		t.Fatalf("verify --vsa: %v\n%s", err, out)
	}
	st, p := readVSA(t, "c.vsa.intoto.jsonl", "other.pub")
	cSum := sha256File(t, "c.bin")
	if len(st.Subject) != 1 || st.Subject[0].GetName() != "c.bin" || st.Subject[0].GetDigest()["sha256"] != cSum {
		t.Errorf("subjects %v, want c.bin sha256:%s", st.Subject, cSum)
	}
	wd, _ := os.Getwd()
	if p.Verifier.ID != verify.VerifierID || p.Verifier.Version["attest-build"] == "" || p.TimeVerified == "" ||
		p.ResourceURI != "https://example.com/releases/c.bin" || p.SLSAVersion != "1.0" || p.VerificationResult != verify.VSAPassed {
		t.Errorf("VSA %+v", p)
	}
	if p.Policy.URI != "file://"+filepath.Join(wd, "policy.yaml") || p.Policy.Digest["sha256"] != sha256File(t, "policy.yaml") {
		t.Errorf("policy %+v", p.Policy)
	}
	if len(p.InputAttestations) != 1 || p.InputAttestations[0].URI != "file://"+filepath.Join(wd, "c.bin.intoto.jsonl") ||
		p.InputAttestations[0].Digest["sha256"] != sha256File(t, "c.bin.intoto.jsonl") {
		t.Errorf("inputAttestations %+v", p.InputAttestations)
	}
	// The simulator: SLSA build L1 and the software TPM level; no IMA log,
	// no golden PCRs in this policy... unless policy init wrote some.
	for _, want := range []string{verify.LevelSLSABuild1, verify.LevelTPMSoftware} {
		if !slices.Contains(p.VerifiedLevels, want) {
			t.Errorf("verifiedLevels %v lack %s", p.VerifiedLevels, want)
		}
	}
	for _, no := range []string{verify.LevelTPMDevice, verify.LevelIMAReplayed} {
		if slices.Contains(p.VerifiedLevels, no) {
			t.Errorf("verifiedLevels %v claim %s for a simulator build without IMA", p.VerifiedLevels, no)
		}
	}

	// A failed verification: exit 1, a FAILED summary without levels.
	if err := os.WriteFile("e.bin", []byte("not c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "verify", "--policy", "policy.yaml", "--attestation", "c.bin.intoto.jsonl", "--vsa", "e.vsa.intoto.jsonl", "--vsa-key", "other.key", "e.bin")
	if exitCode(err) != 1 {
		t.Fatalf("verify of another artifact: exit %d (%v)\n%s", exitCode(err), err, out)
	}
	_, p = readVSA(t, "e.vsa.intoto.jsonl", "other.pub")
	if p.VerificationResult != verify.VSAFailed || len(p.VerifiedLevels) != 0 || !strings.HasPrefix(p.ResourceURI, "file://") {
		t.Errorf("failed verification's VSA: %+v", p)
	}

	// --vsa without --vsa-key is a usage error.
	if _, err := runCLI(t, "verify", "--policy", "policy.yaml", "--vsa", "x.jsonl", "c.bin"); exitCode(err) != 2 {
		t.Errorf("--vsa without --vsa-key: exit %d, want 2", exitCode(err))
	}
}
