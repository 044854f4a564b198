//go:build simulator && cgo

package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	vsapb "github.com/in-toto/attestation/go/predicates/vsa/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/attest-build/attest-build/provenance/verify"
)

// vsaJSON is the VSA v1 predicate as the specification writes it; decoded
// with unknown fields refused.
type vsaJSON struct {
	Verifier struct {
		ID      string            `json:"id"`
		Version map[string]string `json:"version"`
	} `json:"verifier"`
	TimeVerified string `json:"timeVerified"`
	ResourceURI  string `json:"resourceUri"`
	Policy       struct {
		URI    string            `json:"uri"`
		Digest map[string]string `json:"digest"`
	} `json:"policy"`
	InputAttestations []struct {
		URI    string            `json:"uri"`
		Digest map[string]string `json:"digest"`
	} `json:"inputAttestations"`
	VerificationResult string   `json:"verificationResult"`
	VerifiedLevels     []string `json:"verifiedLevels"`
	SLSAVersion        string   `json:"slsaVersion"`
}

// readVSA checks the --vsa file with third-party verifiers (sigstore's DSSE
// wrapper and go-securesystemslib over a sigstore verifier, nothing set by
// hand), the in-toto Go bindings (Statement.Validate, the VSA v1 message)
// and returns its statement and predicate.
func readVSA(t *testing.T, path, pubPath string) (*intoto.Statement, vsaJSON) {
	t.Helper()
	line := bytes.TrimSuffix(mustReadFile(t, path), []byte("\n"))
	if bytes.Contains(line, []byte("\n")) {
		t.Fatalf("%s: more than one envelope", path)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(mustReadFile(t, pubPath))
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigdsse.WrapVerifier(sv).VerifySignature(bytes.NewReader(line), nil); err != nil {
		t.Fatalf("sigstore dsse.WrapVerifier refuses the VSA: %v", err)
	}
	ev, err := dsse.NewEnvelopeVerifier(&sigdsse.VerifierAdapter{SignatureVerifier: sv, Pub: pub})
	if err != nil {
		t.Fatal(err)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(line, &env); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Verify(context.Background(), &env); err != nil {
		t.Fatalf("go-securesystemslib refuses the VSA: %v", err)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		t.Fatal(err)
	}
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		t.Fatalf("in-toto Statement: %v", err)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("in-toto Statement.Validate: %v", err)
	}
	if st.GetPredicateType() != verify.VSAType {
		t.Fatalf("predicateType %s", st.GetPredicateType())
	}
	pj, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		t.Fatal(err)
	}
	// The in-toto binding's message predates verifier.version; it reads
	// the rest.
	var pb vsapb.VerificationSummary
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(pj, &pb); err != nil {
		t.Fatalf("in-toto VSA v1 binding: %v", err)
	}
	var p vsaJSON
	dec := json.NewDecoder(bytes.NewReader(pj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("VSA v1 predicate: %v", err)
	}
	if pb.GetVerifier().GetId() != p.Verifier.ID || pb.GetVerificationResult() != p.VerificationResult || pb.GetTimeVerified() == nil {
		t.Fatalf("in-toto binding reads %v", &pb)
	}
	return &st, p
}

func sha256File(t *testing.T, path string) string {
	sum := sha256.Sum256(mustReadFile(t, path))
	return hex.EncodeToString(sum[:])
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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
