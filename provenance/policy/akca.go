package policy

import (
	"crypto/x509"
	"path/filepath"
	"slices"

	"github.com/attest-build/attest-build/attestca"
	"github.com/attest-build/attest-build/ekcert"
)

// AttestationKeyCA is an attestation CA the policy trusts: an AK with a
// certificate that chains to it is trusted without being named, and so is a
// DSSE signing key that AK certified in the TPM.
type AttestationKeyCA struct {
	Name        string
	Certificate *x509.Certificate
	// CRL is the CA's revocation list, when the policy names one.
	CRL *x509.RevocationList
}

type akCAYAML struct {
	Name            string `yaml:"name"`
	Certificate     string `yaml:"certificate"`
	CertificateFile string `yaml:"certificateFile"`
	CRL             string `yaml:"crl"`
	CRLFile         string `yaml:"crlFile"`
}

// AttestationKeyCAs returns the trusted attestation CAs.
func (p *Policy) AttestationKeyCAs() []AttestationKeyCA { return slices.Clone(p.akCAs) }

// akCAs loads attestationKeyCAs: each a name, one CA certificate (PEM, inline
// or a file) and optionally a revocation list (PEM or DER, inline or a
// file) that the CA signed.
func (l *policyLoader) akCAs(raw []akCAYAML) ([]AttestationKeyCA, error) {
	var out []AttestationKeyCA
	for i, c := range raw {
		at := []any{"attestationKeyCAs", i}
		if c.Name == "" {
			return nil, l.errf(append(at, "name"), "required")
		}
		certPEM, field, err := l.inlineOrFile(at, "certificate", c.Certificate, c.CertificateFile)
		if err != nil {
			return nil, err
		}
		if certPEM == nil {
			return nil, l.errf(at, "certificate or certificateFile required")
		}
		certs, err := ekcert.ParseCertificates(certPEM)
		if err != nil || len(certs) != 1 {
			return nil, l.errf(append(at, field), "want one PEM certificate: %v", err)
		}
		ca := AttestationKeyCA{Name: c.Name, Certificate: certs[0]}
		if !ca.Certificate.IsCA {
			return nil, l.errf(append(at, field), "not a CA certificate (basicConstraints CA:TRUE)")
		}
		crlBytes, field, err := l.inlineOrFile(at, "crl", c.CRL, c.CRLFile)
		if err != nil {
			return nil, err
		}
		if crlBytes != nil {
			if ca.CRL, err = attestca.ParseCRL(crlBytes); err != nil {
				return nil, l.errf(append(at, field), "%w", err)
			}
			if err := ca.CRL.CheckSignatureFrom(ca.Certificate); err != nil {
				return nil, l.errf(append(at, field), "not signed by the CA: %w", err)
			}
		}
		out = append(out, ca)
	}
	return out, nil
}

// inlineOrFile returns the inline value of a field, or the contents of its
// File variant (relative to the policy's folder), or nil for neither, and
// the name of the field used.
func (l *policyLoader) inlineOrFile(at []any, field, inline, file string) ([]byte, string, error) {
	switch {
	case inline != "" && file != "":
		return nil, "", l.errf(at, "give %s or %sFile, not both", field, field)
	case inline != "":
		return []byte(inline), field, nil
	case file != "":
		path := file
		if !filepath.IsAbs(path) {
			path = filepath.Join(l.dir, path)
		}
		b, err := readCapped(path, 1<<20)
		if err != nil {
			return nil, "", l.errf(append(at, field+"File"), "reading %s: %w", path, err)
		}
		return b, field + "File", nil
	}
	return nil, "", nil
}
