package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/tpm"
)

// TestVerifyEnvelopeKeyTypes: an envelope signed by keys of every kind a
// policy may trust (ECDSA P-256 and P-384, RSA, Ed25519) verifies with
// each, among signatures by untrusted keys; the encoding is hashed once per
// hash function however many signatures and keys are tried.
func TestVerifyEnvelopeKeyTypes(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	env := &envelope{line: 1, payloadType: predicates.PayloadType, payload: []byte(`{"_type":"x"}`)}
	paeBytes := fmt.Sprintf("DSSEv1 %d %s %d %s", len(env.payloadType), env.payloadType, len(env.payload), env.payload)
	sign := func(k crypto.Signer) envelopeSignature {
		s, err := signature.LoadDefaultSignerVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.SignMessage(strings.NewReader(paeBytes))
		if err != nil {
			t.Fatal(err)
		}
		return envelopeSignature{Sig: base64.StdEncoding.EncodeToString(sig)}
	}
	var keys []trustedKey
	for _, k := range []crypto.Signer{p256, p384, rk, ek} {
		env.signatures = append(env.signatures, sign(k))
		fp, err := tpm.Fingerprint(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, trustedKey{name: fp, pub: k.Public(), fingerprint: fp})
	}
	env.signatures = append(env.signatures, sign(other), envelopeSignature{Sig: "AAAA"})
	uniq, svs, err := signatureVerifiers(keys)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{signers: uniq, sigVerifiers: svs}
	pae := newPAEDigests(env)
	if got := v.verifyEnvelope(env, pae); len(got) != len(keys) {
		t.Fatalf("accepted %d keys, want %d", len(got), len(keys))
	}
	// sha256 (P-256, RSA) and sha384 (P-384); Ed25519 signs the message.
	if len(pae.digests) != 2 {
		t.Errorf("%d digests of the encoding computed, want 2 (sha256, sha384)", len(pae.digests))
	}
	env.payload = append(env.payload, ' ')
	if got := v.verifyEnvelope(env, newPAEDigests(env)); len(got) != 0 {
		t.Fatalf("changed payload: %d keys accepted", len(got))
	}
}
