package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// A Verifier is built once from a policy (and checked then), and refuses
// by default: here the attestation is not a DSSE envelope at all, so the
// first check fails and the error names it, with what was expected and
// found. The policy trusts the attestation key of the real Debian 12 swtpm
// VM in testdata/quotes; the signer key is given as WithSignerKeys.
func ExampleVerifier_Verify() {
	p, err := policy.ParsePolicy([]byte(`version: 1
builders:
  - name: vm-debian12-swtpm
    attestationKeys:
      - publicKeyFile: ../../testdata/quotes/vm-debian12-swtpm/ak.pem
builderIds: [https://github.com/attest-build/attest-build/builders/tpm-device/v0.1]
`), "policy.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := verify.NewVerifier(p, verify.WithSignerKeys(signer.Public()))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = v.Verify(context.Background(), strings.NewReader("not an attestation\n"), verify.Artifact{Name: "app.tar"})
	var ce *verify.CheckError
	if errors.As(err, &ce) {
		fmt.Println("errors.Is(err, verify.ErrVerification):", errors.Is(err, verify.ErrVerification))
		fmt.Println("failed check:", ce.Check)
		fmt.Println("expected:", ce.Expected)
	}
	// Output:
	// errors.Is(err, verify.ErrVerification): true
	// failed check: envelope
	// expected: a JSON DSSE envelope per line
}
