package tpm

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// A credential made in software for one TPM's EK and its AK's name is
// released by that TPM, and by no other.
func TestMakeActivateCredential(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			tp := b.open(t)
			ak, err := tp.EnsureAK(AKOptions{})
			if err != nil {
				t.Fatal(err)
			}
			name, err := ObjectName(ak.Public)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(name, ak.Name) {
				t.Fatalf("ObjectName %x, TPM name %x", name, ak.Name)
			}
			for _, kind := range []EKKind{EKRSA2048, EKECCP256} {
				ek, err := tp.EK(kind)
				if err != nil {
					t.Fatal(err)
				}
				value := []byte("0123456789abcdef0123456789abcdef")
				blob, secret, err := MakeCredential(ek.Public, name, value, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				got, err := tp.ActivateCredential(ak, kind, blob, secret)
				if err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				if !bytes.Equal(got, value) {
					t.Fatalf("%s: activated %x, want %x", kind, got, value)
				}
				// Bound to another name: the TPM refuses.
				other := bytes.Clone(name)
				other[len(other)-1] ^= 1
				blob, secret, err = MakeCredential(ek.Public, other, value, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tp.ActivateCredential(ak, kind, blob, secret); err == nil {
					t.Fatalf("%s: credential for another name activated", kind)
				}
			}
		})
	}
}

// The signing key of an attestation key is refused as an EK.
func TestMakeCredentialRefusesNonEK(t *testing.T) {
	tp := openSwtpmT(t)
	ak, err := tp.EnsureAK(AKOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := MakeCredential(ak.Public, ak.Name, []byte("x"), rand.Reader); err == nil {
		t.Fatal("MakeCredential accepted a signing key as the EK")
	}
}
