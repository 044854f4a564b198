package verify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/attestca"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// FuzzVerify fuzzes the envelope layer: the file is split into lines, each
// decoded as a DSSE envelope within the size and count caps, and each
// signature tried against the trusted key. A fuzzed input cannot carry a
// signature by that key, so it must be refused at the envelope or
// signature check, never later: nothing unsigned reaches the statement
// parser. FuzzVerifySigned (simulator tag) signs its inputs and fuzzes
// everything after the signature.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}`))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"payloadType":"x","payload":"!!","signatures":[]}`))
	p, err := policy.ParsePolicy([]byte(provtest.BasePolicy(f)), "fuzz.yaml")
	if err != nil {
		f.Fatal(err)
	}
	v, err := verify.NewVerifier(p)
	if err != nil {
		f.Fatal(err)
	}
	// The same policy trusting an attestation CA: an envelope no trusted
	// key verifies is then read as a TPM/IMA statement naming a
	// TPM-resident signer (parsed, its AK and certification checked), and
	// must still be refused at the signature check.
	caPol, err := policy.ParsePolicy([]byte(provtest.BasePolicy(f)+"attestationKeyCAs:\n  - name: fuzz-ca\n    certificate: |\n"+indentLines(fuzzCAPEM(f), "      ")), "fuzz-ca.yaml")
	if err != nil {
		f.Fatal(err)
	}
	vCA, err := verify.NewVerifier(caPol)
	if err != nil {
		f.Fatal(err)
	}
	// A seed signed by the signingKey it names (whose AK no CA certified).
	sk, skKey := provtest.TestKeyPEM(f)
	stmt := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"}}],"predicateType":"` + predicates.TPMIMAType +
		`","predicate":{"signingKey":{"publicKeyPem":` + strconv.Quote(sk) + `},"attestationKey":{"publicKeyPem":"","fingerprint":""},"nonce":{"start":"00"}}}`
	pae := sha256.Sum256([]byte(fmt.Sprintf("DSSEv1 %d %s %d %s", len(predicates.PayloadType), predicates.PayloadType, len(stmt), stmt)))
	sig, err := ecdsa.SignASN1(rand.Reader, skKey, pae[:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"payloadType":"` + predicates.PayloadType + `","payload":"` + base64.StdEncoding.EncodeToString([]byte(stmt)) + `","signatures":[{"keyid":"","sig":"` + base64.StdEncoding.EncodeToString(sig) + `"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []*verify.Verifier{v, vCA} {
			_, err := v.Verify(context.Background(), bytes.NewReader(data), verify.Artifact{Name: "a"})
			var ce *verify.CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *verify.CheckError", err)
			}
			if ce.Check != verify.CheckEnvelope && ce.Check != verify.CheckSignature {
				t.Fatalf("unsigned input refused at check %s, want %s or %s", ce.Check, verify.CheckEnvelope, verify.CheckSignature)
			}
			if ce.Expected == "" || ce.Found == "" {
				t.Fatalf("refusal without expected and found values: %v", ce)
			}
		}
	})
}

// fuzzCAPEM returns the certificate of a new attestation CA (attestca.Init), PEM.
func fuzzCAPEM(t testing.TB) string {
	t.Helper()
	ca, err := attestca.Init(t.TempDir(), attestca.InitOptions{Name: "fuzz CA"})
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate().Raw}))
}

func indentLines(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

// TestAllChecksCopy: AllChecks returns a copy; changing it changes nothing.
func TestAllChecksCopy(t *testing.T) {
	want := verify.AllChecks()
	c := verify.AllChecks()
	c[0] = "changed"
	if got := verify.AllChecks(); got[0] != verify.CheckEnvelope || !slices.Equal(got, want) {
		t.Errorf("verify.AllChecks() = %v after changing a returned slice", got)
	}
}
