package attestca

import (
	"crypto/x509"
	"os"
	"testing"

	attestpb "github.com/google/go-tpm-tools/proto/attest"
	"google.golang.org/protobuf/proto"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/tpm"
)

// A real Google-issued AK certificate (GCE vTPM, go-tpm-tools' test data)
// is read and checked against the AK that signed the quotes.
func TestRealGCEAKCertificate(t *testing.T) {
	b, err := os.ReadFile("../testdata/quotes/go-tpm-tools/gce-cos-85-nonce9009.pb")
	if err != nil {
		t.Fatal(err)
	}
	var a attestpb.Attestation
	if err := proto.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	ak, err := tpm.ParseAKPublic(a.GetAkPub())
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ekcert.ParseCertificates(a.GetAkCert())
	if err != nil {
		t.Fatal(err)
	}
	leaf := certs[0]
	t.Logf("AK certificate: issuer %q, %d intermediates, valid %s to %s", leaf.Issuer, len(a.GetIntermediateCerts()), leaf.NotBefore, leaf.NotAfter)
	var inter []*x509.Certificate
	for _, der := range a.GetIntermediateCerts() {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		inter = append(inter, c)
	}
	// The test data has neither Google's root nor intermediates: trust the
	// certificate itself as the anchor.
	roots := x509.NewCertPool()
	if len(inter) > 0 {
		roots.AddCert(inter[len(inter)-1])
	} else {
		roots.AddCert(leaf)
	}
	v, err := VerifyAKCertificate(leaf, AKCertOptions{Roots: roots, Intermediates: inter, AK: ak, At: leaf.NotBefore.Add(1)})
	if err != nil {
		t.Fatal(err)
	}
	if v.Class != "" {
		t.Errorf("a cloud AK certificate names no enrollment class: got %q", v.Class)
	}
	otherPEM, err := os.ReadFile("../testdata/quotes/vm-debian12-swtpm/ak.pem")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tpm.ParseAKPEM(otherPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyAKCertificate(leaf, AKCertOptions{Roots: roots, Intermediates: inter, AK: other, At: leaf.NotBefore.Add(1)}); err == nil {
		t.Error("Google's AK certificate accepted for another AK")
	}
}
