package provtest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/attest-build/attest-build/internal/imatest"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
)

// IMARecord is imatest.Record: one ima-ng record for path and its PCR 10
// digests.
func IMARecord(path string) (rec []byte, sha1TH [20]byte, sha256TD [32]byte) {
	return imatest.Record(path)
}

// AppendIMA is imatest.Append: records for paths appended to the log file,
// extend called with each record's PCR 10 digests.
func AppendIMA(t *testing.T, log string, paths []string, extend func(sha1TH [20]byte, sha256TD [32]byte)) {
	t.Helper()
	imatest.Append(t, log, paths, extend)
}

// TestSigner generates an ECDSA P-256 key pair in a temporary folder.
func TestSigner(t *testing.T) (*provenance.Signer, string) {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "signing")
	s, err := provenance.GenerateKey(prefix, provenance.KeyECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, prefix
}

type Statement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// ReadAttestation verifies every envelope of an .intoto.jsonl file with the
// public key at pubPath and returns the statements.
func ReadAttestation(t *testing.T, path, pubPath string) []Statement {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := provenance.LoadPublicKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := provenance.NewEnvelopeVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	var out []Statement
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var env dsse.Envelope
		if err := json.Unmarshal(line, &env); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if env.PayloadType != predicates.PayloadType {
			t.Fatalf("line %d: payloadType %q", i+1, env.PayloadType)
		}
		if len(env.Signatures) != 1 || env.Signatures[0].KeyID != provenance.EnvelopeKeyID {
			t.Fatalf("line %d: signatures %+v, want one with keyid %q", i+1, env.Signatures, provenance.EnvelopeKeyID)
		}
		if _, err := ev.Verify(context.Background(), &env); err != nil {
			t.Fatalf("line %d: envelope does not verify: %v", i+1, err)
		}
		payload, err := env.DecodeB64Payload()
		if err != nil {
			t.Fatal(err)
		}
		var st Statement
		if err := json.Unmarshal(payload, &st); err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

// TPMPredicate returns the TPM/IMA predicate of the statements, validated
// against the JSON Schema by the caller.
func TPMPredicate(t *testing.T, sts []Statement) (*predicates.TPMIMA, json.RawMessage) {
	t.Helper()
	for _, st := range sts {
		if st.PredicateType == predicates.TPMIMAType {
			var p predicates.TPMIMA
			if err := json.Unmarshal(st.Predicate, &p); err != nil {
				t.Fatal(err)
			}
			return &p, st.Predicate
		}
	}
	t.Fatalf("no %s statement", predicates.TPMIMAType)
	return nil, nil
}

// BuildGrowingLog is imatest.GrowDuring: the argv of a build during which
// the records of during are appended to log.
func BuildGrowingLog(t *testing.T, flags, log string, during []string, extend func(sha1TH [20]byte, sha256TD [32]byte), script string) []string {
	t.Helper()
	return imatest.GrowDuring(t, flags, log, during, extend, script)
}
