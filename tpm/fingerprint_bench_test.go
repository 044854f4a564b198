package tpm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"testing"
)

// oldFingerprint is Fingerprint before go-digest (kept here only to
// benchmark against in one run).
func oldFingerprint(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// BenchmarkFingerprint fingerprints a P-256 public key with the old
// hand-written format and with go-digest, in one run; both must agree.
func BenchmarkFingerprint(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	want, _ := oldFingerprint(k.Public())
	if got, _ := Fingerprint(k.Public()); got != want {
		b.Fatalf("Fingerprint %s, old %s", got, want)
	}
	b.Run("hex-old", func(b *testing.B) {
		for range b.N {
			if _, err := oldFingerprint(k.Public()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-digest", func(b *testing.B) {
		for range b.N {
			if _, err := Fingerprint(k.Public()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
