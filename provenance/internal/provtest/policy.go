package provtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// TestKeyPEM generates an ECDSA P-256 key and returns its public key as PEM.
func TestKeyPEM(t testing.TB) (string, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := cryptoutils.MarshalPublicKeyToPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pemBytes), k
}

func indent(s, pad string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return pad + strings.Join(lines, "\n"+pad)
}

// BasePolicy is a minimal valid policy: one signer, one builder with one
// attestation key (fresh keys, private halves dropped), one builder id.
func BasePolicy(t testing.TB) string {
	t.Helper()
	signer, _ := TestKeyPEM(t)
	ak, _ := TestKeyPEM(t)
	return `version: 1
signers:
  - name: release
    publicKey: |
` + indent(signer, "      ") + `
builders:
  - name: runner-1
    attestationKeys:
      - publicKey: |
` + indent(ak, "          ") + `
builderIds: [https://example.com/builder]
`
}
