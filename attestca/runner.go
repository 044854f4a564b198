package attestca

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/tpm"
)

// NewRequest reads what enrollment needs from the runner's TPM: its EK
// certificates, the EK whose certificate it can recreate (RSA 2048, else
// ECC P-256; RSA 2048 when there is no certificate, for a pinned EK) and the
// AK's public area.
func NewRequest(t *tpm.TPM, ak *tpm.AK) (*Request, error) {
	info, err := t.Info()
	if err != nil {
		return nil, fmt.Errorf("enrollment request: %w", err)
	}
	q := &Request{
		Version:  Version,
		AKPublic: ak.Public,
		TPM: TPMInfo{
			Manufacturer:    info.Manufacturer,
			VendorString:    info.VendorStrings,
			FirmwareVersion: info.FirmwareString(),
		},
	}
	var kinds []tpm.EKKind
	for _, c := range info.EKCerts {
		if der, err := trimCert(c.DER); err == nil {
			q.EKCertificates = append(q.EKCertificates, der)
		}
		if k, ok := tpm.EKKindOfIndex(c.Index); ok {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		kinds = []tpm.EKKind{tpm.EKRSA2048}
	}
	ek, err := t.EK(kinds[0])
	if err != nil {
		return nil, fmt.Errorf("enrollment request: %w", err)
	}
	q.EKKind, q.EKPublic = string(ek.Kind), ek.Public
	return q, nil
}

// trimCert drops the NV padding after an EK certificate.
func trimCert(der []byte) ([]byte, error) {
	c, err := ekcert.Parse(der)
	if err != nil {
		return nil, err
	}
	return c.Raw, nil
}

// Activate answers a challenge with the runner's TPM
// (TPM2_ActivateCredential with the challenge's EK and ak).
func Activate(t *tpm.TPM, ak *tpm.AK, c *Challenge) (*Response, error) {
	cred, err := t.ActivateCredential(ak, tpm.EKKind(c.EKKind), c.CredentialBlob, c.Secret)
	if err != nil {
		return nil, fmt.Errorf("answering challenge %s: %w", c.ID, err)
	}
	return &Response{Version: Version, ID: c.ID, Credential: cred}, nil
}

// ekCertificateFor returns the request's EK certificate whose key is pub,
// or nil when none is.
func ekCertificateFor(certs [][]byte, pub crypto.PublicKey) (*ekcert.Certificate, error) {
	var errs []error
	for i, der := range certs {
		c, err := ekcert.Parse(der)
		if err != nil {
			errs = append(errs, fmt.Errorf("ekCertificates[%d]: %w", i, err))
			continue
		}
		if k, ok := c.Certificate.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(pub) {
			return c, nil
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return nil, nil
}
