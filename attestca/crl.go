package attestca

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/attest-build/attest-build/internal/atomicfile"
)

// CRLFile is the CA's certificate revocation list (PEM X509 CRL): publish it
// where verifiers fetch it (policy attestationKeyCRLs).
const CRLFile = "crl.pem"

// crlValidity is the nextUpdate of a new CRL.
const crlValidity = 30 * 24 * time.Hour

// Revoke adds an AK certificate's serial number to the CA's revocation
// list, writes the new list (CRLFile) and returns it.
func (ca *CA) Revoke(serial *big.Int) (*x509.RevocationList, error) {
	now := ca.now()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(crlValidity)}
	old, err := ca.CRL()
	switch {
	case err == nil:
		tmpl.Number = new(big.Int).Add(old.Number, big.NewInt(1))
		tmpl.RevokedCertificateEntries = old.RevokedCertificateEntries
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	for _, e := range tmpl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return old, nil
		}
	}
	tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: now})
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("revoking %s: %w", serial.Text(16), err)
	}
	if err := atomicfile.Write(filepath.Join(ca.dir, CRLFile), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	ca.audit("revoked serial=%s crl_number=%s", serial.Text(16), tmpl.Number)
	return x509.ParseRevocationList(der)
}

// CRL reads the CA's current revocation list (an error wrapping
// fs.ErrNotExist when it has revoked nothing yet).
func (ca *CA) CRL() (*x509.RevocationList, error) {
	b, err := os.ReadFile(filepath.Join(ca.dir, CRLFile))
	if err != nil {
		return nil, err
	}
	return ParseCRL(b)
}

// ParseCRL parses a revocation list, PEM (X509 CRL) or DER.
func ParseCRL(b []byte) (*x509.RevocationList, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "X509 CRL" {
			return nil, fmt.Errorf("parsing revocation list: PEM block %q, want X509 CRL", blk.Type)
		}
		b = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("parsing revocation list: %w", err)
	}
	return crl, nil
}
