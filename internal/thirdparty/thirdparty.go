// Package thirdparty runs the third-party DSSE verifiers attest-build's
// output must satisfy (go-securesystemslib over a sigstore verifier,
// sigstore's DSSE wrapper as cosign uses it, in-toto-golang's key loader)
// on envelopes, the way their users call them: nothing set by hand. Tests
// of every package that signs (attestations, bundles, verification
// summaries) share it; the product never imports it.
package thirdparty

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"

	intoto "github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
)

// envelopeKeyID is provenance.EnvelopeKeyID, the keyid attest-build writes
// (this package does not import the product it checks).
const envelopeKeyID = ""

// Verifiers verify one DSSE envelope (JSON) with a PEM public key
// the way each library's users do by default: no keyid is set by hand
// anywhere, so each verifier computes (or omits) the keyid it compares
// against the envelope's.
var Verifiers = []struct {
	name string
	// skip, when it returns a reason, says why the verifier cannot check
	// signatures by this key type at all (not a keyid matter).
	skip   func(pub crypto.PublicKey) string
	verify func(env []byte, pubPEM []byte) error
}{
	{
		// go-securesystemslib's EnvelopeVerifier over a sigstore verifier:
		// the adapter gives no keyid, so securesystemslib computes one
		// (the SSH SHA256 fingerprint) and skips a signature whose keyid
		// differs.
		name: "go-securesystemslib dsse.NewEnvelopeVerifier + sigstore signature.LoadVerifier",
		verify: func(env, pubPEM []byte) error {
			pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
			if err != nil {
				return err
			}
			sv, err := signature.LoadVerifier(pub, DefaultHash(pub))
			if err != nil {
				return err
			}
			ev, err := dsse.NewEnvelopeVerifier(&sigdsse.VerifierAdapter{SignatureVerifier: sv, Pub: pub})
			if err != nil {
				return err
			}
			var e dsse.Envelope
			if err := json.Unmarshal(env, &e); err != nil {
				return err
			}
			_, err = ev.Verify(context.Background(), &e)
			return err
		},
	},
	{
		// sigstore's DSSE wrapper, as cosign uses it.
		name: "sigstore dsse.WrapVerifier",
		verify: func(env, pubPEM []byte) error {
			pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
			if err != nil {
				return err
			}
			sv, err := signature.LoadVerifier(pub, DefaultHash(pub))
			if err != nil {
				return err
			}
			return sigdsse.WrapVerifier(sv).VerifySignature(bytes.NewReader(env), nil)
		},
	},
	{
		// in-toto-golang: the key loaded with its defaults (scheme and the
		// securesystemslib keyid, the SHA-256 of the key's canonical
		// JSON), verified as in_toto.Envelope.VerifySignature does (its
		// loader reads only links and layouts, not statements). Its RSA
		// scheme is RSASSA-PSS; attest-build signs RSA with PKCS #1 v1.5,
		// sigstore's and cosign's default.
		name: "in-toto-golang Key.LoadKeyReaderDefaults + securesystemslib signerverifier",
		skip: func(pub crypto.PublicKey) string {
			if _, ok := pub.(*rsa.PublicKey); ok {
				return "in-toto-golang's RSA scheme is rsassa-pss-sha256; attest-build's RSA signatures are PKCS #1 v1.5 (sigstore's and cosign's default)"
			}
			return ""
		},
		verify: func(env, pubPEM []byte) error {
			var k intoto.Key
			if err := k.LoadKeyReaderDefaults(bytes.NewReader(pubPEM)); err != nil {
				return err
			}
			sk := &signerverifier.SSLibKey{KeyType: k.KeyType, KeyIDHashAlgorithms: k.KeyIDHashAlgorithms, KeyID: k.KeyID, Scheme: k.Scheme,
				KeyVal: signerverifier.KeyVal{Public: k.KeyVal.Public}}
			if k.KeyID == "" {
				return fmt.Errorf("in-toto-golang computed no keyid")
			}
			var v dsse.Verifier
			var err error
			switch k.KeyType {
			case signerverifier.ECDSAKeyType:
				v, err = signerverifier.NewECDSASignerVerifierFromSSLibKey(sk)
			case signerverifier.ED25519KeyType:
				v, err = signerverifier.NewED25519SignerVerifierFromSSLibKey(sk)
			default:
				return fmt.Errorf("key type %s", k.KeyType)
			}
			if err != nil {
				return err
			}
			ev, err := dsse.NewEnvelopeVerifier(v)
			if err != nil {
				return err
			}
			var e dsse.Envelope
			if err := json.Unmarshal(env, &e); err != nil {
				return err
			}
			_, err = ev.Verify(context.Background(), &e)
			return err
		},
	},
}

// DefaultHash is the hash a sigstore user passes to signature.LoadVerifier
// for the key (cosign's choice: SHA-384 for P-384, SHA-512 for P-521, else
// SHA-256; Ed25519 signs the message itself).
func DefaultHash(pub crypto.PublicKey) crypto.Hash {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			return crypto.SHA384
		case elliptic.P521():
			return crypto.SHA512
		}
	case ed25519.PublicKey:
		return crypto.Hash(0)
	}
	return crypto.SHA256
}

// Check runs every third-party verifier on every envelope of an
// .intoto.jsonl file, and checks that each refuses an envelope whose
// payload was changed (so a pass means the signature was checked).
func Check(t *testing.T, jsonl []byte, pubPEM []byte) {
	t.Helper()
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	envs := bytes.Split(bytes.TrimSuffix(jsonl, []byte("\n")), []byte("\n"))
	if len(envs) == 0 {
		t.Fatal("no envelope")
	}
	for i, env := range envs {
		CheckSignatureEncoding(t, i+1, env, pub)
	}
	for _, tv := range Verifiers {
		if tv.skip != nil {
			if reason := tv.skip(pub); reason != "" {
				t.Logf("%s: not run: %s", tv.name, reason)
				continue
			}
		}
		for i, env := range envs {
			if err := tv.verify(env, pubPEM); err != nil {
				t.Errorf("%s refuses envelope %d: %v", tv.name, i+1, err)
			}
			if err := tv.verify(TamperPayload(t, env), pubPEM); err == nil {
				t.Errorf("%s accepts envelope %d with a changed payload", tv.name, i+1)
			}
		}
	}
}

// CheckSignatureEncoding checks envelope n's one signature as the
// third-party verifiers read it: the empty keyid (envelopeKeyID,
// which every keyid-aware verifier tries whatever keyid it computes) and,
// for an ECDSA key, an ASN.1 DER ECDSA-Sig-Value (SEQUENCE of r and s,
// minimal encoding, nothing after it) over the hash of the DSSE PAE, the
// encoding sigstore's and go-securesystemslib's verifiers expect; a TPM's
// raw r and s (TPMS_SIGNATURE_ECDSA) would not verify.
func CheckSignatureEncoding(t *testing.T, n int, env []byte, pub crypto.PublicKey) {
	t.Helper()
	var e dsse.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Signatures) != 1 {
		t.Fatalf("envelope %d: %d signatures, want 1", n, len(e.Signatures))
	}
	if e.Signatures[0].KeyID != envelopeKeyID {
		t.Errorf("envelope %d: keyid %q, want %q", n, e.Signatures[0].KeyID, envelopeKeyID)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
	if err != nil {
		t.Fatalf("envelope %d: sig: %v", n, err)
	}
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &rs)
	if err != nil || len(rest) != 0 {
		t.Fatalf("envelope %d: the ECDSA signature is not one ASN.1 SEQUENCE of r and s (%v, %d bytes after it): %x", n, err, len(rest), sig)
	}
	if der, err := asn1.Marshal(rs); err != nil || !bytes.Equal(der, sig) {
		t.Errorf("envelope %d: the ECDSA signature is not DER (re-encoded %x, found %x)", n, der, sig)
	}
	payload, err := e.DecodeB64Payload()
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHash(pub).New()
	h.Write(dsse.PAE(e.PayloadType, payload))
	if !ecdsa.VerifyASN1(ec, h.Sum(nil), sig) {
		t.Errorf("envelope %d: crypto/ecdsa.VerifyASN1 refuses the signature over the %v of the PAE", n, DefaultHash(pub))
	}
}

// TamperPayload returns env with one more space at the end of its payload.
func TamperPayload(t *testing.T, env []byte) []byte {
	t.Helper()
	var e dsse.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	p, err := e.DecodeB64Payload()
	if err != nil {
		t.Fatal(err)
	}
	e.Payload = base64.StdEncoding.EncodeToString(append(p, ' '))
	out, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
