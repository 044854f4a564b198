package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	vsapb "github.com/in-toto/attestation/go/predicates/vsa/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/attest-build/attest-build/internal/thirdparty"
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

// readVSA checks the --vsa file with the third-party DSSE verifiers
// (internal/thirdparty: go-securesystemslib over a sigstore verifier,
// sigstore's DSSE wrapper, in-toto-golang; nothing set by hand), the in-toto
// Go bindings (Statement.Validate, the VSA v1 message) and returns its
// statement and predicate.
func readVSA(t *testing.T, path, pubPath string) (*intoto.Statement, vsaJSON) {
	t.Helper()
	line := bytes.TrimSuffix(mustReadFile(t, path), []byte("\n"))
	if bytes.Contains(line, []byte("\n")) {
		t.Fatalf("%s: more than one envelope", path)
	}
	thirdparty.Check(t, line, mustReadFile(t, pubPath))
	var env dsse.Envelope
	if err := json.Unmarshal(line, &env); err != nil {
		t.Fatal(err)
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
