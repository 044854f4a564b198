package tpm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func TestSigningKey(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			tp := b.open(t)
			auth := bytes.Repeat([]byte{7}, 32)
			handle := DefaultSigningKeyHandle
			// The simulator keeps its state across tests in a process.
			tpm2.EvictControl{
				Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
				ObjectHandle:     tpm2.NamedHandle{Handle: tpm2.TPMHandle(handle)},
				PersistentHandle: tpm2.TPMHandle(handle),
			}.Execute(tp.t)
			if _, err := tp.SigningKey(handle); !errors.Is(err, ErrNoSigningKey) {
				t.Fatalf("empty handle: %v, want ErrNoSigningKey", err)
			}
			k, err := tp.CreateSigningKey(handle, auth)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tp.CreateSigningKey(handle, auth); err == nil {
				t.Fatal("created a second key over the first")
			}
			again, err := tp.SigningKey(handle)
			if err != nil {
				t.Fatal(err)
			}
			if !again.PublicKey.Equal(k.PublicKey) {
				t.Fatal("the persisted key is not the created one")
			}
			sum := sha256.Sum256([]byte("payload"))
			sig, err := tp.Sign(k, auth, sum[:])
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(k.PublicKey, sum[:], sig) {
				t.Fatal("TPM signature does not verify")
			}
			if _, err := tp.Sign(k, bytes.Repeat([]byte{8}, 32), sum[:]); err == nil {
				t.Fatal("signed with a wrong authorization value")
			}
			if _, err := tp.Sign(k, nil, sum[:]); err == nil {
				t.Fatal("signed with no authorization value")
			}

			ak, err := tp.EnsureAK(AKOptions{})
			if err != nil {
				t.Fatal(err)
			}
			nonce := bytes.Repeat([]byte{0xa5}, 32)
			attest, asig, err := tp.Certify(k, auth, ak, nonce)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := VerifyCertify(attest, asig, ak.PublicKey, k.Public, nonce)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.Equal(k.PublicKey) {
				t.Fatal("certified key differs")
			}
			// One input changed at a time.
			if _, err := VerifyCertify(attest, asig, ak.PublicKey, k.Public, bytes.Repeat([]byte{1}, 32)); !errors.Is(err, ErrCertifyNonce) {
				t.Errorf("other nonce: %v", err)
			}
			if _, err := VerifyCertify(attest, asig, ak.PublicKey, ak.Public, nonce); !errors.Is(err, ErrCertifyName) {
				t.Errorf("other key: %v", err)
			}
			bad := bytes.Clone(attest)
			bad[len(bad)-1] ^= 1
			if _, err := VerifyCertify(bad, asig, ak.PublicKey, k.Public, nonce); !errors.Is(err, ErrSignature) {
				t.Errorf("edited certifyInfo: %v", err)
			}
			// A quote is not a certification.
			sel, _ := ParsePCRSelection("sha256:10")
			q, err := tp.Quote(ak, sel, nonce)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyCertify(q.Attest, q.Signature, ak.PublicKey, k.Public, nonce); !errors.Is(err, ErrCertifyType) {
				t.Errorf("quote as certification: %v", err)
			}
		})
	}
}
