package provenance

import (
	"context"
	"encoding/hex"
	"encoding/pem"
	"fmt"

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
		if _, err := t.EnsureAK(cfg.AK); err != nil {
			t.Close()
			return nil, nil, err
		}
		return SharedTPM(t, sel, cfg.AK), t.Close, nil
	}
	_, err = t.EnsureAK(cfg.AK)
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	open := func() (TPMSession, error) {
		t, err := tpm.OpenContext(ctx, cfg.Ref)
		if err != nil {
			return nil, err
		}
		return &tpmSession{t: t, sel: sel, akOpts: cfg.AK, close: t.Close}, nil
	}
	return open, func() error { return nil }, nil
}

// SharedTPM returns an opener whose sessions use t, already open, and leave
// it open (the caller closes it). For the in-process simulator and for tests
// that extend PCRs of the same TPM around a build.
func SharedTPM(t *tpm.TPM, sel tpm.PCRSelection, ak tpm.AKOptions) TPMOpener {
	return func() (TPMSession, error) {
		return &tpmSession{t: t, sel: sel, akOpts: ak, close: func() error { return nil }}, nil
	}
}

type tpmSession struct {
	t      *tpm.TPM
	sel    tpm.PCRSelection
	akOpts tpm.AKOptions
	ak     *tpm.AK
	close  func() error
}

func (s *tpmSession) loadAK() (*tpm.AK, error) {
	if s.ak == nil {
		ak, err := s.t.EnsureAK(s.akOpts)
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
	return predicates.AttestationKey{
		PublicKeyPEM: string(ak.PEM()),
		TPMTPublic:   ak.Public,
		Fingerprint:  ak.Fingerprint(),
	}, nil
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
