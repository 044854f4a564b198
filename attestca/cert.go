package attestca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/tpm"
)

// Certificate policies of AK certificates: the class of EK anchor the CA
// enrolled the TPM under. OIDs under 2.25 (ITU-T X.667, from UUIDs), so
// they need no registry.
var (
	PolicyHardwareEK = mustOID("2.25.331417966737046717862716197782337610022")
	PolicySoftwareEK = mustOID("2.25.48159587057841576117083950092697969823")
)

// TCG OIDs.
var (
	// oidAKCertificate is the extended key usage tcg-kp-AIKCertificate.
	oidAKCertificate  = asn1.ObjectIdentifier{2, 23, 133, 8, 3}
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
)

func mustOID(s string) x509.OID {
	o, err := x509.ParseOID(s)
	if err != nil {
		panic(err)
	}
	return o
}

func (ca *CA) issueCert(akPublic []byte, e Enrollment, now time.Time, validity time.Duration) ([]byte, error) {
	ak, err := tpm.ParseAKPublic(akPublic)
	if err != nil {
		return nil, fmt.Errorf("issuing AK certificate: %w", err)
	}
	fp, err := tpm.Fingerprint(ak)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	policy := PolicySoftwareEK
	if e.Class == ekcert.ClassHardware {
		policy = PolicyHardwareEK
	}
	var extra []pkix.Extension
	if san, ok, err := ekcert.IdentitySAN(e.TPM); err != nil {
		return nil, err
	} else if ok {
		extra = append(extra, san)
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "attest-build AK " + fp[:len("sha256:")+16],
			SerialNumber: e.EKFingerprint,
		},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidAKCertificate},
		BasicConstraintsValid: true,
		Policies:              []x509.OID{policy},
		ExtraExtensions:       extra,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, ak, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issuing AK certificate: %w", err)
	}
	return der, nil
}

// ErrAKCertificate reports an AK certificate that does not verify.
var ErrAKCertificate = errors.New("AK certificate not trusted")

// VerifiedAK is an AK certificate that VerifyAKCertificate accepted.
type VerifiedAK struct {
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	// Class is the class of EK anchor the TPM was enrolled under, from
	// the certificate's policy; "" when it names neither policy (a cloud's
	// AK certificate: the cloud vouches for its vTPM, not for hardware).
	Class ekcert.Class
	// EKFingerprint is the EK the CA enrolled ("" when not recorded).
	EKFingerprint string
	// TPM is the TPM identity from the EK certificate, when recorded.
	TPM ekcert.Identity
}

// AKCertOptions are what VerifyAKCertificate checks an AK certificate
// against.
type AKCertOptions struct {
	// Roots are the trusted attestation CAs (required).
	Roots *x509.CertPool
	// Intermediates are untrusted certificates that may complete a chain
	// (those the attestation carries after the AK certificate).
	Intermediates []*x509.Certificate
	// AK is the attestation key that signed the quotes (required): the
	// certificate must be for exactly this key.
	AK crypto.PublicKey
	// At is the time the certificate must be valid at: the time of the
	// quotes as far as it is known.
	At time.Time
	// CRLs are revocation lists; one issued by a certificate's issuer is
	// checked (signature, then the serial number).
	CRLs []*x509.RevocationList
}

// VerifyAKCertificate checks, in order:
//
//  1. the certificate chains to one of o.Roots (through o.Intermediates),
//     valid at o.At (every certificate of the chain), for any extended key
//     usage (cloud AK certificates carry none or their own);
//  2. its public key is o.AK;
//  3. no CRL in o.CRLs from an issuer on the chain, with a valid signature
//     by that issuer, lists a certificate of the chain;
//
// and only then returns the enrollment the certificate records.
func VerifyAKCertificate(cert *x509.Certificate, o AKCertOptions) (*VerifiedAK, error) {
	if o.Roots == nil || o.AK == nil {
		return nil, errors.New("verifying AK certificate: no trusted CA or no AK given")
	}
	inter := x509.NewCertPool()
	for _, c := range o.Intermediates {
		inter.AddCert(c)
	}
	// A critical SAN with only a directoryName (our own, or a cloud's) is
	// not something crypto/x509 handles.
	c := *cert
	c.UnhandledCriticalExtensions = nil
	for _, oid := range cert.UnhandledCriticalExtensions {
		if !oid.Equal(oidSubjectAltName) {
			c.UnhandledCriticalExtensions = append(c.UnhandledCriticalExtensions, oid)
		}
	}
	chains, err := c.Verify(x509.VerifyOptions{Roots: o.Roots, Intermediates: inter, CurrentTime: o.At, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("%w: serial %s, issuer %q, at %s: %w", ErrAKCertificate, cert.SerialNumber.Text(16), cert.Issuer, o.At.UTC().Format(time.RFC3339), err)
	}
	k, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !k.Equal(o.AK) {
		want, _ := tpm.Fingerprint(o.AK)
		found, _ := tpm.Fingerprint(cert.PublicKey)
		return nil, fmt.Errorf("%w: it certifies key %s, but the quotes were signed by %s", ErrAKCertificate, found, want)
	}
	chain := chains[0]
	for i := 0; i+1 < len(chain); i++ {
		if err := checkRevoked(chain[i], chain[i+1], o.CRLs); err != nil {
			return nil, err
		}
	}
	v := &VerifiedAK{Certificate: cert, Chain: chain, EKFingerprint: cert.Subject.SerialNumber}
	for _, p := range cert.Policies {
		if p.Equal(PolicyHardwareEK) {
			v.Class = ekcert.ClassHardware
		}
	}
	for _, p := range cert.Policies {
		if p.Equal(PolicySoftwareEK) {
			v.Class = ekcert.ClassSoftware // both: the weaker
		}
	}
	if id, ok := identityOf(cert); ok {
		v.TPM = id
	}
	return v, nil
}

func checkRevoked(cert, issuer *x509.Certificate, crls []*x509.RevocationList) error {
	for _, crl := range crls {
		if string(crl.RawIssuer) != string(issuer.RawSubject) {
			continue
		}
		if err := crl.CheckSignatureFrom(issuer); err != nil {
			return fmt.Errorf("%w: revocation list of %q: bad signature: %w", ErrAKCertificate, issuer.Subject, err)
		}
		for _, r := range crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return fmt.Errorf("%w: certificate serial %s is revoked (since %s) by %q", ErrAKCertificate, cert.SerialNumber.Text(16), r.RevocationTime.UTC().Format(time.RFC3339), issuer.Subject)
			}
		}
	}
	return nil
}

// identityOf reads the TPM identity of an AK certificate's subjectAltName.
func identityOf(cert *x509.Certificate) (ekcert.Identity, bool) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			id, found, err := ekcert.ParseIdentitySAN(e.Value)
			return id, found && err == nil
		}
	}
	return ekcert.Identity{}, false
}
