package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha1" // signature and PCR hashes
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/google/go-tpm/tpm2"
)

// Errors from VerifyQuote, one per check; tell them apart with errors.Is.
var (
	// ErrSignature: the signature bytes are malformed, of an unsupported
	// algorithm, do not fit the AK's key type, or do not verify.
	ErrSignature = errors.New("quote signature does not verify with the attestation key")
	// ErrMalformed: a TPM structure could not be decoded.
	ErrMalformed = errors.New("malformed TPM structure")
	// ErrNotQuote: the signed structure is not a TPM-generated quote
	// (magic is not TPM_GENERATED_VALUE or type is not TPM_ST_ATTEST_QUOTE).
	ErrNotQuote = errors.New("attestation is not a TPM-generated quote")
	// ErrNonce: the quote's extraData is not the expected nonce.
	ErrNonce = errors.New("quote nonce (extraData) does not match")
	// ErrPCRDigest: the quote's pcrDigest is not the digest of the given PCR
	// values.
	ErrPCRDigest = errors.New("quote PCR digest does not match the PCR values")
	// ErrPCRSelection: the given PCR values do not match the quote's PCR
	// selection (a selected PCR has no value, a value is not selected, is
	// given twice or has the wrong size).
	ErrPCRSelection = errors.New("PCR values do not match the quote's PCR selection")
)

// MismatchError names a failed comparison: the check (one of the sentinels
// above, matched by errors.Is), the field, and the expected and found values
// in hex.
type MismatchError struct {
	Check    error
	Field    string
	Expected string
	Found    string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%v: %s: expected %s, found %s", e.Check, e.Field, e.Expected, e.Found)
}

func (e *MismatchError) Unwrap() error { return e.Check }

func mismatch(check error, field string, expected, found []byte) error {
	return &MismatchError{Check: check, Field: field, Expected: hexOrEmpty(expected), Found: hexOrEmpty(found)}
}

func hexOrEmpty(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	return hex.EncodeToString(b)
}

// ClockInfo is a quote's TPMS_CLOCK_INFO.
type ClockInfo struct {
	Clock        uint64 // milliseconds the TPM has been powered since its last TPM2_Clear
	ResetCount   uint32 // TPM resets (reboots) since the last TPM2_Clear
	RestartCount uint32 // TPM2_Shutdown/Startup cycles since the last reset
	Safe         bool   // no larger Clock value was ever reported
}

// VerifyOptions are the trusted inputs a quote is checked against.
type VerifyOptions struct {
	// Nonce is the expected qualifyingData (extraData). Nil or empty means
	// the quote must carry no nonce.
	Nonce []byte
	// PCRs are the PCR values the quote must cover: one for every PCR the
	// quote selects, and none it does not select. Order does not matter.
	PCRs []PCRValue
}

// VerifiedQuote is what a verified quote attests. It exists only for quotes
// that passed every check of VerifyQuote.
type VerifiedQuote struct {
	ExtraData       []byte       // the nonce
	ClockInfo       ClockInfo    //
	FirmwareVersion uint64       // TPM vendor's firmware version
	Selection       PCRSelection // the quoted selection, in the quote's order
	PCRs            []PCRValue   // the given values, in the quote's selection order
	PCRDigest       []byte       // the quoted digest over PCRs
	QualifiedSigner []byte       // the AK's qualified name (TPM2B_NAME contents)
	SignatureHash   crypto.Hash  // hash algorithm of the signature and of PCRDigest
}

// VerifyQuote checks a TPM2_Quote: attest is the raw TPMS_ATTEST bytes and
// sig the raw TPMT_SIGNATURE bytes the TPM returned, akPub the trusted
// attestation key (*ecdsa.PublicKey or *rsa.PublicKey, RSA at least 2048
// bits). The checks, in order, each with its own error:
//
//  1. the signature: sig decodes as an ECDSA, RSASSA or RSAPSS signature
//     fitting akPub's type, and verifies over the raw attest bytes hashed
//     with the signature's own hash algorithm (SHA-1, SHA-256, SHA-384 or
//     SHA-512) (ErrSignature);
//  2. attest decodes as a TPMS_ATTEST with no trailing bytes (ErrMalformed);
//  3. its magic is TPM_GENERATED_VALUE and its type TPM_ST_ATTEST_QUOTE
//     (ErrNotQuote);
//  4. its extraData equals opts.Nonce, compared in constant time (ErrNonce);
//  5. opts.PCRs holds one value of the right size for every selected PCR
//     (ErrPCRSelection), and the digest of those values in the quote's
//     selection order, with the signature's hash algorithm, equals the
//     quote's pcrDigest (ErrPCRDigest);
//  6. every value in opts.PCRs is covered by the quote's selection
//     (ErrPCRSelection).
//
// Comparison failures are *MismatchError values carrying the expected and
// found hex. Nothing from the quote is returned unless every check passes.
//
// The signature proves the TPM made the quote only when akPub belongs to a
// restricted signing key (which ParseAKPublic checks): the caller must
// trust akPub by other means (a policy, an AK certificate).
func VerifyQuote(attest, sig []byte, akPub crypto.PublicKey, opts VerifyOptions) (*VerifiedQuote, error) {
	h, err := verifySignature(akPub, attest, sig)
	if err != nil {
		return nil, err
	}
	a, err := parseAttest(attest)
	if err != nil {
		return nil, fmt.Errorf("decoding quote: %w", err)
	}
	if a.magic != tpmGenerated {
		return nil, mismatch(ErrNotQuote, "TPMS_ATTEST.magic", u32be(tpmGenerated), u32be(a.magic))
	}
	if a.typ != tpmSTAttestQuote {
		return nil, mismatch(ErrNotQuote, "TPMS_ATTEST.type", []byte{0x80, 0x18}, []byte{byte(a.typ >> 8), byte(a.typ)})
	}
	if subtle.ConstantTimeCompare(a.extraData, opts.Nonce) != 1 {
		return nil, mismatch(ErrNonce, "TPMS_ATTEST.extraData", opts.Nonce, a.extraData)
	}
	values, err := orderPCRs(a, opts.PCRs)
	if err != nil {
		return nil, err
	}
	d := pcrDigest(h, values)
	if !bytes.Equal(d, a.pcrDigest) {
		return nil, mismatch(ErrPCRDigest, "TPMS_QUOTE_INFO.pcrDigest", d, a.pcrDigest)
	}
	return &VerifiedQuote{
		ExtraData:       a.extraData,
		ClockInfo:       a.clock,
		FirmwareVersion: a.firmwareVersion,
		Selection:       a.selection,
		PCRs:            values,
		PCRDigest:       a.pcrDigest,
		QualifiedSigner: a.qualifiedSigner,
		SignatureHash:   h,
	}, nil
}

func u32be(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// orderPCRs matches the given values to the quote's selection, returning
// them in selection order (copies, so later changes by the caller do not
// alter the verified result).
func orderPCRs(a *attestInfo, given []PCRValue) ([]PCRValue, error) {
	type key struct {
		bank  string
		index int
	}
	byKey := make(map[key]PCRValue, len(given))
	for i, v := range given {
		k := key{v.Bank, v.Index}
		if _, dup := byKey[k]; dup {
			return nil, fmt.Errorf("%w: PCR value %d (%s:%d) given twice", ErrPCRSelection, i, v.Bank, v.Index)
		}
		byKey[k] = v
	}
	out := make([]PCRValue, 0, len(a.slots))
	for _, s := range a.slots {
		v, ok := byKey[key{s.bank, s.index}]
		if !ok {
			return nil, fmt.Errorf("%w: quote selects %s:%d, but no value for it was given", ErrPCRSelection, s.bank, s.index)
		}
		if len(v.Value) != s.hash.Size() {
			return nil, fmt.Errorf("%w: PCR %s:%d value is %d bytes, want %d", ErrPCRSelection, s.bank, s.index, len(v.Value), s.hash.Size())
		}
		out = append(out, PCRValue{Bank: s.bank, Index: s.index, Value: bytes.Clone(v.Value)})
		delete(byKey, key{s.bank, s.index})
	}
	for i, v := range given {
		if _, left := byKey[key{v.Bank, v.Index}]; left {
			return nil, fmt.Errorf("%w: PCR value %d (%s:%d) is not in the quote's selection %s", ErrPCRSelection, i, v.Bank, v.Index, a.selection)
		}
	}
	return out, nil
}

// pcrDigest hashes the concatenated PCR values with h, as TPM2_Quote does.
func pcrDigest(h crypto.Hash, values []PCRValue) []byte {
	hh := h.New()
	for _, v := range values {
		hh.Write(v.Value)
	}
	return hh.Sum(nil)
}

var sigHashes = map[tpm2.TPMIAlgHash]crypto.Hash{
	tpm2.TPMAlgSHA1:   crypto.SHA1,
	tpm2.TPMAlgSHA256: crypto.SHA256,
	tpm2.TPMAlgSHA384: crypto.SHA384,
	tpm2.TPMAlgSHA512: crypto.SHA512,
}

// parseSignature decodes TPMT_SIGNATURE bytes, rejecting trailing bytes.
func parseSignature(b []byte) (*tpm2.TPMTSignature, error) {
	s, err := tpm2.Unmarshal[tpm2.TPMTSignature](b)
	if err != nil {
		return nil, fmt.Errorf("decoding TPMT_SIGNATURE (%d bytes): %w", len(b), err)
	}
	if n := len(tpm2.Marshal(s)); n != len(b) {
		return nil, fmt.Errorf("decoding TPMT_SIGNATURE: %d trailing bytes after byte %d", len(b)-n, n)
	}
	return s, nil
}

// verifySignature checks sig over msg with pub and returns the signature's
// hash algorithm. Every failure wraps ErrSignature.
func verifySignature(pub crypto.PublicKey, msg, sigBytes []byte) (crypto.Hash, error) {
	fail := func(format string, a ...any) (crypto.Hash, error) {
		return 0, fmt.Errorf("%w: %s", ErrSignature, fmt.Sprintf(format, a...))
	}
	sig, err := parseSignature(sigBytes)
	if err != nil {
		return fail("%v", err)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if sig.SigAlg != tpm2.TPMAlgECDSA {
			return fail("ECDSA key, but signature algorithm 0x%04x", uint16(sig.SigAlg))
		}
		e, err := sig.Signature.ECDSA()
		if err != nil {
			return fail("%v", err)
		}
		h, ok := sigHashes[e.Hash]
		if !ok {
			return fail("unsupported signature hash algorithm 0x%04x", uint16(e.Hash))
		}
		r := new(big.Int).SetBytes(e.SignatureR.Buffer)
		s := new(big.Int).SetBytes(e.SignatureS.Buffer)
		if !ecdsa.Verify(k, digest(h, msg), r, s) {
			return fail("ECDSA-%v signature over %d attest bytes", h, len(msg))
		}
		return h, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fail("RSA key of %d bits, want at least 2048", k.N.BitLen())
		}
		var (
			rs  *tpm2.TPMSSignatureRSA
			err error
		)
		switch sig.SigAlg {
		case tpm2.TPMAlgRSASSA:
			rs, err = sig.Signature.RSASSA()
		case tpm2.TPMAlgRSAPSS:
			rs, err = sig.Signature.RSAPSS()
		default:
			return fail("RSA key, but signature algorithm 0x%04x", uint16(sig.SigAlg))
		}
		if err != nil {
			return fail("%v", err)
		}
		h, ok := sigHashes[rs.Hash]
		if !ok {
			return fail("unsupported signature hash algorithm 0x%04x", uint16(rs.Hash))
		}
		if sig.SigAlg == tpm2.TPMAlgRSASSA {
			err = rsa.VerifyPKCS1v15(k, h, digest(h, msg), rs.Sig.Buffer)
		} else {
			err = rsa.VerifyPSS(k, h, digest(h, msg), rs.Sig.Buffer, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: h})
		}
		if err != nil {
			return fail("RSA %v signature over %d attest bytes: %v", h, len(msg), err)
		}
		return h, nil
	case nil:
		return fail("no attestation key given")
	default:
		return fail("unsupported attestation key type %T", pub)
	}
}

func digest(h crypto.Hash, msg []byte) []byte {
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}
