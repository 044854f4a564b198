package tpm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// testAKCert issues a certificate for pub from a throwaway CA, standing in
// for the cloud's.
func testAKCert(t *testing.T, pub any) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cloud CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "AK"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// The tests write a certificate into swtpm's NV at the indices the clouds
// use, as the cloud would, and CloudAK finds AK and certificate.
func TestCloudAK(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		tp := openSwtpmT(t)
		if _, err := tp.CloudAK(); !errors.Is(err, ErrNoCloudAK) {
			t.Fatalf("plain swtpm: %v, want ErrNoCloudAK", err)
		}
	})
	t.Run("gce", func(t *testing.T) {
		tp := openSwtpmT(t)
		tmpl, err := AKTemplate(AKECCP256)
		if err != nil {
			t.Fatal(err)
		}
		// The AK GCE's template makes: a primary of the endorsement
		// hierarchy.
		cp, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(tmpl)}.Execute(tp.t)
		if err != nil {
			t.Fatal(err)
		}
		tp.flush(cp.ObjectHandle)
		pub, err := ParseAKPublic(cp.OutPublic.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		cert := testAKCert(t, pub)
		if err := tp.WriteNV(GCEAKTemplateIndexECC, tpm2.Marshal(tmpl)); err != nil {
			t.Fatal(err)
		}
		if err := tp.WriteNV(GCEAKCertIndexECC, cert); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second time, the persisted AK is reused
			c, err := tp.CloudAK()
			if err != nil {
				t.Fatal(err)
			}
			if c.Cloud != CloudGCE || string(c.Certificate) != string(cert) {
				t.Fatalf("cloud %q, certificate of %d bytes", c.Cloud, len(c.Certificate))
			}
			if !c.AK.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
				t.Fatal("GCE AK is not the template's key")
			}
		}
		ak, err := tp.EnsureAK(AKOptions{Cloud: true})
		if err != nil {
			t.Fatal(err)
		}
		sel, _ := ParsePCRSelection("sha256:10")
		q, err := tp.Quote(ak, sel, []byte("n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyQuote(q.Attest, q.Signature, pub, VerifyOptions{Nonce: []byte("n"), PCRs: q.PCRs}); err != nil {
			t.Fatalf("quote by the cloud AK: %v", err)
		}
	})
	t.Run("azure", func(t *testing.T) {
		tp := openSwtpmT(t)
		ak, err := tp.EnsureAK(AKOptions{Handle: AzureAKHandle})
		if err != nil {
			t.Fatal(err)
		}
		cert := testAKCert(t, ak.PublicKey)
		if err := tp.WriteNV(AzureAKCertIndex, cert); err != nil {
			t.Fatal(err)
		}
		c, err := tp.CloudAK()
		if err != nil {
			t.Fatal(err)
		}
		if c.Cloud != CloudAzure || c.AK.Handle != AzureAKHandle || string(c.Certificate) != string(cert) {
			t.Fatalf("got %s at 0x%08x", c.Cloud, c.AK.Handle)
		}
	})
}
