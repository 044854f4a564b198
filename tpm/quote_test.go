package tpm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func TestEnsureAKQuoteVerify(t *testing.T) {
	for _, be := range backends {
		for _, alg := range []AKAlg{AKECCP256, AKRSA2048} {
			t.Run(be.name+"/"+string(alg), func(t *testing.T) {
				tp := be.open(t)
				ak, err := tp.EnsureAK(AKOptions{Alg: alg})
				if err != nil {
					t.Fatalf("EnsureAK: %v", err)
				}
				again, err := tp.EnsureAK(AKOptions{Alg: alg})
				if err != nil {
					t.Fatalf("EnsureAK again: %v", err)
				}
				if !bytes.Equal(ak.Public, again.Public) || ak.Handle != again.Handle {
					t.Fatalf("EnsureAK not idempotent: handle 0x%x vs 0x%x", ak.Handle, again.Handle)
				}
				pub, err := ParseAKPublic(ak.Public)
				if err != nil {
					t.Fatalf("ParseAKPublic(ak.Public): %v", err)
				}
				fromPEM, err := ParseAKPEM(ak.PEM())
				if err != nil {
					t.Fatalf("ParseAKPEM: %v", err)
				}
				if f, _ := Fingerprint(fromPEM); f != ak.Fingerprint() {
					t.Fatalf("fingerprint through PEM %s, want %s", f, ak.Fingerprint())
				}

				sel, err := ParsePCRSelection("sha256:0-10+sha1:10")
				if err != nil {
					t.Fatal(err)
				}
				nonce := sha256.Sum256([]byte("artifact"))
				q, err := tp.Quote(ak, sel, nonce[:])
				if err != nil {
					t.Fatalf("Quote: %v", err)
				}
				if len(q.PCRs) != 12 || q.PCRs[0].Bank != "sha256" || q.PCRs[11].Bank != "sha1" || q.PCRs[11].Index != 10 {
					t.Fatalf("quote PCRs not in selection order: %v", q.PCRs)
				}
				vq, err := VerifyQuote(q.Attest, q.Signature, pub, VerifyOptions{Nonce: nonce[:], PCRs: q.PCRs})
				if err != nil {
					t.Fatalf("VerifyQuote: %v", err)
				}
				if vq.Selection.String() != sel.String() || !bytes.Equal(vq.ExtraData, nonce[:]) {
					t.Fatalf("verified selection %s nonce %x, want %s %x", vq.Selection, vq.ExtraData, sel, nonce)
				}

				// Extend PCR 10 and quote again: the new values are returned
				// and the old ones no longer verify.
				ext := sha256.Sum256([]byte("build step"))
				if _, err := (tpm2.PCRExtend{
					PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(10), Auth: tpm2.PasswordAuth(nil)},
					Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: ext[:]}}},
				}).Execute(tp.Transport()); err != nil {
					t.Fatalf("PCRExtend: %v", err)
				}
				q2, err := tp.Quote(ak, sel, nonce[:])
				if err != nil {
					t.Fatalf("Quote after extend: %v", err)
				}
				if bytes.Equal(q2.PCRs[10].Value, q.PCRs[10].Value) {
					t.Fatalf("sha256:10 did not change after extend")
				}
				if _, err := VerifyQuote(q2.Attest, q2.Signature, pub, VerifyOptions{Nonce: nonce[:], PCRs: q.PCRs}); !errors.Is(err, ErrPCRDigest) {
					t.Fatalf("new quote with old PCR values: got %v, want ErrPCRDigest", err)
				}
				if _, err := VerifyQuote(q2.Attest, q2.Signature, pub, VerifyOptions{Nonce: nonce[:], PCRs: q2.PCRs}); err != nil {
					t.Fatalf("VerifyQuote after extend: %v", err)
				}
			})
		}
	}
}
