package provenance

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/tpm"
)

// TPMConfig names the TPM that quotes and what it quotes.
type TPMConfig struct {
	// Ref is a tpm.Open reference: "auto", a device path, "swtpm:PATH" or
	// "sim".
	Ref string
	// PCRs is the quoted selection (nil: tpm.DefaultPCRSelection). It must
	// include PCR 10 for the IMA window.
	PCRs tpm.PCRSelection
	// AK chooses the attestation key (tpm.EnsureAK).
	AK tpm.AKOptions
	// Context bounds every wait for the TPM (tpm.OpenContext); nil means
	// context.Background(). Give one that a signal cancels, not the
	// build's.
	Context context.Context
	// AKCertificates are the AK's certificate and intermediates (DER), to
	// carry in the predicate; the first must certify the AK. With AK.Cloud
	// and none given, the cloud's certificate is read from NV.
	AKCertificates [][]byte
	// SigningKey names the TPM-resident signing key, for NewTPMSigner.
	SigningKey *TPMKey
	// SignOnly opens the TPM for SigningKey's signatures alone (verify
	// --vsa-key tpm): OpenTPM neither loads nor makes an attestation key.
	SignOnly bool
}

// CheckPCRSelection checks that a selection parsed by tpm.ParsePCRSelection
// can serve Attest: it must include PCR 10 (IMAPCR) in at least one bank, for
// the IMA window. OpenTPM calls it; a command line can call it first to
// report a bad --pcrs before it opens the TPM.
func CheckPCRSelection(sel tpm.PCRSelection) error {
	for _, bank := range []string{"sha256", "sha1", "sha384", "sha512"} {
		if sel.Contains(bank, IMAPCR) {
			return nil
		}
	}
	return fmt.Errorf("PCR selection %s: must include PCR %d (the IMA PCR) in some bank, e.g. %s", sel, IMAPCR, tpm.DefaultPCRSelection)
}

// OpenTPM checks that the TPM named by cfg opens and has (or now has) its
// attestation key, and returns an opener for Attest and a function that
// releases what it holds. Every session opens the TPM afresh and closes it,
// except for the in-process simulator ("sim"): closing it would reset it, so
// it stays open until the release function is called.
func OpenTPM(cfg TPMConfig) (TPMOpener, func() error, error) {
	sel := cfg.PCRs
	if sel == nil {
		var err error
		if sel, err = tpm.ParsePCRSelection(tpm.DefaultPCRSelection); err != nil {
			return nil, nil, err
		}
	}
	if err := CheckPCRSelection(sel); err != nil {
		return nil, nil, err
	}
	ctx := cfg.Context
	if ctx == nil {
		ctx = context.Background()
	}
	t, err := tpm.OpenContext(ctx, cfg.Ref)
	if err != nil {
		return nil, nil, err
	}
	if t.Mode() == tpm.ModeSim {
		s := &tpmSession{t: t, cfg: cfg, sel: sel, close: func() error { return nil }}
		if err := s.check(); err != nil {
			t.Close()
			return nil, nil, err
		}
		cfg = s.cfg
		return func() (TPMSession, error) {
			return &tpmSession{t: t, cfg: cfg, sel: sel, close: func() error { return nil }}, nil
		}, t.Close, nil
	}
	s := &tpmSession{t: t, cfg: cfg, sel: sel}
	err = s.check()
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	cfg = s.cfg
	if err != nil {
		return nil, nil, err
	}
	open := func() (TPMSession, error) {
		t, err := tpm.OpenContext(ctx, cfg.Ref)
		if err != nil {
			return nil, err
		}
		return &tpmSession{t: t, cfg: cfg, sel: sel, close: t.Close}, nil
	}
	return open, func() error { return nil }, nil
}

// SharedTPM returns an opener whose sessions use t, already open, and leave
// it open (the caller closes it). For the in-process simulator and for tests
// that extend PCRs of the same TPM around a build.
func SharedTPM(t *tpm.TPM, sel tpm.PCRSelection, ak tpm.AKOptions) TPMOpener {
	return func() (TPMSession, error) {
		return &tpmSession{t: t, sel: sel, cfg: TPMConfig{AK: ak}, close: func() error { return nil }}, nil
	}
}

type tpmSession struct {
	t     *tpm.TPM
	cfg   TPMConfig
	sel   tpm.PCRSelection
	ak    *tpm.AK
	key   *tpm.SigningKey
	auth  []byte
	close func() error
}

// check makes sure of what the configuration names: the AK (created if
// missing), that the AK certificate is for it, and the signing key
// (created if missing and asked for).
func (s *tpmSession) check() error {
	if s.cfg.SignOnly {
		if s.cfg.SigningKey == nil {
			return errors.New("the TPM configuration is for signing only, but names no signing key")
		}
		_, _, err := s.signingKey()
		return err
	}
	ak, err := s.loadAK()
	if err != nil {
		return err
	}
	if s.cfg.AK.Cloud && len(s.cfg.AKCertificates) == 0 {
		c, err := s.t.CloudAK()
		if err != nil {
			return err
		}
		cert, err := ekcert.Parse(c.Certificate) // drops NV padding
		if err != nil {
			return fmt.Errorf("the %s AK certificate in NV: %w", c.Cloud, err)
		}
		s.cfg.AKCertificates = [][]byte{cert.Raw}
	}
	if len(s.cfg.AKCertificates) > 0 {
		c, err := x509.ParseCertificate(s.cfg.AKCertificates[0])
		if err != nil {
			return fmt.Errorf("AK certificate: %w", err)
		}
		if k, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(ak.PublicKey) {
			fp, _ := tpm.Fingerprint(c.PublicKey)
			return fmt.Errorf("the AK certificate (serial %s) is for key %s, not for this TPM's attestation key %s", c.SerialNumber.Text(16), fp, ak.Fingerprint())
		}
	}
	if s.cfg.SigningKey != nil {
		if _, _, err := s.signingKey(); err != nil {
			return err
		}
	}
	return nil
}

func (s *tpmSession) signingKey() (*tpm.SigningKey, []byte, error) {
	if s.key == nil {
		if s.cfg.SigningKey == nil {
			return nil, nil, errors.New("the TPM configuration names no signing key")
		}
		k, auth, err := loadTPMKey(s.t, s.cfg.SigningKey)
		if err != nil {
			return nil, nil, err
		}
		s.key, s.auth = k, auth
	}
	return s.key, s.auth, nil
}

func (s *tpmSession) SigningPublicKey() (crypto.PublicKey, error) {
	k, _, err := s.signingKey()
	if err != nil {
		return nil, err
	}
	return k.PublicKey, nil
}

func (s *tpmSession) SignDigest(digest []byte) ([]byte, error) {
	k, auth, err := s.signingKey()
	if err != nil {
		return nil, err
	}
	return s.t.Sign(k, auth, digest)
}

func (s *tpmSession) CertifySigningKey(qualifyingData []byte) (*predicates.SigningKey, error) {
	k, auth, err := s.signingKey()
	if err != nil {
		return nil, err
	}
	ak, err := s.loadAK()
	if err != nil {
		return nil, err
	}
	attest, sig, err := s.t.Certify(k, auth, ak, qualifyingData)
	if err != nil {
		return nil, err
	}
	p, err := publicKeyPEM(k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &predicates.SigningKey{TPMTPublic: k.Public, PublicKeyPEM: p, CertifyInfo: attest, CertifySignature: sig}, nil
}

func (s *tpmSession) loadAK() (*tpm.AK, error) {
	if s.ak == nil {
		ak, err := s.t.EnsureAK(s.cfg.AK)
		if err != nil {
			return nil, err
		}
		s.ak = ak
	}
	return s.ak, nil
}

func (s *tpmSession) Info() (predicates.TPM, error) {
	out := predicates.TPM{Mode: string(s.t.Mode())}
	info, err := s.t.Info()
	if err != nil {
		return out, err
	}
	out.Manufacturer = info.Manufacturer
	out.VendorString = info.VendorStrings
	out.FirmwareVersion = tpm.FormatFirmwareVersion(info.FirmwareVersion)
	for _, c := range info.EKCerts {
		out.EKCertificates = append(out.EKCertificates, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})))
	}
	return out, nil
}

func (s *tpmSession) AttestationKey() (predicates.AttestationKey, error) {
	ak, err := s.loadAK()
	if err != nil {
		return predicates.AttestationKey{}, err
	}
	out := predicates.AttestationKey{
		PublicKeyPEM: string(ak.PEM()),
		TPMTPublic:   ak.Public,
		Fingerprint:  ak.Fingerprint(),
	}
	for _, der := range s.cfg.AKCertificates {
		out.Certificates = append(out.Certificates, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	}
	return out, nil
}

func (s *tpmSession) Quote(nonce []byte) (predicates.Quote, error) {
	ak, err := s.loadAK()
	if err != nil {
		return predicates.Quote{}, err
	}
	q, err := s.t.Quote(ak, s.sel, nonce)
	if err != nil {
		return predicates.Quote{}, err
	}
	out := predicates.Quote{Attest: q.Attest, Signature: q.Signature, PCRs: make([]predicates.PCR, len(q.PCRs))}
	for i, v := range q.PCRs {
		out.PCRs[i] = predicates.PCR{Bank: v.Bank, Index: v.Index, Value: hex.EncodeToString(v.Value)}
	}
	return out, nil
}

func (s *tpmSession) PCRSelection() string { return s.sel.String() }

func (s *tpmSession) Close() error { return s.close() }
