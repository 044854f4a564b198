package attestca

import (
	"bytes"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/tpm"
)

func TestVerifyCarriedAKAndSigningKey(t *testing.T) {
	r := startRunner(t)
	ca, err := Init(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cert, roots := enroll(t, r, ca, trustOf(t, ekcert.ClassHardware, r.sw.EKRoots()))
	ak := predicates.AttestationKey{
		PublicKeyPEM: string(r.ak.PEM()), TPMTPublic: r.ak.Public, Fingerprint: r.ak.Fingerprint(),
		Certificates: []string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))},
	}
	v, err := VerifyCarriedAK(ak, AKCertOptions{Roots: roots, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if v.Class != ekcert.ClassHardware {
		t.Errorf("class %s", v.Class)
	}
	if _, err := VerifyCarriedAK(predicates.AttestationKey{TPMTPublic: r.ak.Public}, AKCertOptions{Roots: roots, At: time.Now()}); !errors.Is(err, ErrNoAKCertificate) {
		t.Errorf("no certificates: %v", err)
	}
	// The certificate carried beside another AK: refused.
	other := startRunner(t)
	swapped := ak
	swapped.TPMTPublic = other.ak.Public
	if _, err := VerifyCarriedAK(swapped, AKCertOptions{Roots: roots, At: time.Now()}); !errors.Is(err, ErrAKCertificate) {
		t.Errorf("AK certificate for another key: %v", err)
	}

	auth := bytes.Repeat([]byte{3}, 32)
	k, err := r.t.CreateSigningKey(tpm.DefaultSigningKeyHandle, auth)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{9}, 32)
	attest, sig, err := r.t.Certify(k, auth, r.ak, nonce)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := tpm.PublicKeyPEM(k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sk := &predicates.SigningKey{TPMTPublic: k.Public, PublicKeyPEM: string(pemKey), CertifyInfo: attest, CertifySignature: sig}
	pub, err := VerifySigningKey(sk, r.ak.PublicKey, nonce)
	if err != nil || !pub.Equal(k.PublicKey) {
		t.Fatalf("VerifySigningKey = %v, %v", pub, err)
	}
	// Certified by another TPM's AK: refused.
	if _, err := VerifySigningKey(sk, other.ak.PublicKey, nonce); !errors.Is(err, ErrSigningKey) {
		t.Errorf("other AK: %v", err)
	}
	// A PEM that is not the certified key: refused.
	bad := *sk
	bad.PublicKeyPEM = string(other.ak.PEM())
	if _, err := VerifySigningKey(&bad, r.ak.PublicKey, nonce); !errors.Is(err, ErrSigningKey) {
		t.Errorf("swapped PEM: %v", err)
	}
}

func TestCheckMode(t *testing.T) {
	for _, tc := range []struct {
		class ekcert.Class
		mode  string
		ok    bool
	}{
		{ekcert.ClassHardware, "device", true},
		{ekcert.ClassHardware, "swtpm", false},
		{ekcert.ClassSoftware, "device", false},
		{ekcert.ClassSoftware, "swtpm", true},
		{ekcert.ClassSoftware, "sim", true},
		{"", "device", true}, // a cloud's certificate records no class
	} {
		err := CheckMode(tc.class, tc.mode)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrModeClass)) {
			t.Errorf("CheckMode(%s, %s) = %v", tc.class, tc.mode, err)
		}
	}
}
