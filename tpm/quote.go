package tpm

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// MaxNonceSize is the largest qualifyingData Quote accepts: a SHA-256
// digest. TPM2B_DATA is bounded by the TPM's largest digest, and every TPM
// has SHA-256.
const MaxNonceSize = 32

// maxQuoteAttempts bounds the read-quote-check loop of Quote.
const maxQuoteAttempts = 5

// ErrPCRsMoving is returned by Quote when the PCRs changed between the
// read and the quote on every attempt.
var ErrPCRsMoving = errors.New("PCR values kept changing while quoting")

// Quote is a TPM2_Quote as the TPM returned it, with the PCR values its
// pcrDigest covers. Nothing in it is verified: check it with VerifyQuote.
type Quote struct {
	Attest    []byte     // TPMS_ATTEST bytes, as signed
	Signature []byte     // TPMT_SIGNATURE bytes
	PCRs      []PCRValue // in the quote's selection order
}

// Quote has the TPM quote the PCRs in sel with ak, over qualifyingData (the
// nonce, at most MaxNonceSize bytes). PCRs can change between reading them
// and quoting; Quote reads, quotes, and checks the read values against the
// quoted pcrDigest, retrying up to a bound, so the returned values always
// match the quote (else ErrPCRsMoving).
func (t *TPM) Quote(ak *AK, sel PCRSelection, qualifyingData []byte) (*Quote, error) {
	if ak == nil {
		return nil, errors.New("quoting: no attestation key")
	}
	if len(qualifyingData) > MaxNonceSize {
		return nil, fmt.Errorf("quoting: qualifying data is %d bytes, at most %d", len(qualifyingData), MaxNonceSize)
	}
	if err := sel.validate(); err != nil {
		return nil, fmt.Errorf("quoting: %w", err)
	}
	sign := tpm2.AuthHandle{Handle: tpm2.TPMHandle(ak.Handle), Name: tpm2.TPM2BName{Buffer: ak.Name}, Auth: tpm2.PasswordAuth(nil)}
	for attempt := 1; ; attempt++ {
		values, err := t.ReadPCRs(sel)
		if err != nil {
			return nil, fmt.Errorf("quoting: %w", err)
		}
		rsp, err := tpm2.Quote{
			SignHandle:     sign,
			QualifyingData: tpm2.TPM2BData{Buffer: qualifyingData},
			InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			PCRSelect:      sel.tpml(),
		}.Execute(t.t)
		if err != nil {
			return nil, fmt.Errorf("quoting %s with the attestation key at 0x%08x: %w", sel, ak.Handle, err)
		}
		q := &Quote{Attest: rsp.Quoted.Bytes(), Signature: tpm2.Marshal(&rsp.Signature)}
		// Check the values with the verifier's own code, against the AK.
		_, err = VerifyQuote(q.Attest, q.Signature, ak.PublicKey, VerifyOptions{Nonce: qualifyingData, PCRs: values})
		switch {
		case err == nil:
			q.PCRs = values
			return q, nil
		case errors.Is(err, ErrPCRDigest) && attempt < maxQuoteAttempts:
			continue
		case errors.Is(err, ErrPCRDigest):
			return nil, fmt.Errorf("quoting %s: %w (%d attempts)", sel, ErrPCRsMoving, attempt)
		default:
			return nil, fmt.Errorf("quoting %s: the TPM's quote does not verify: %w", sel, err)
		}
	}
}

// ReadPCRs reads the PCRs in sel and returns them in selection order. The
// values can be stale as soon as they are read; only a quote binds them.
func (t *TPM) ReadPCRs(sel PCRSelection) ([]PCRValue, error) {
	if err := sel.validate(); err != nil {
		return nil, fmt.Errorf("reading PCRs: %w", err)
	}
	var out []PCRValue
	for _, b := range sel {
		alg, h, _ := bankAlg(b.Bank)
		got := make(map[int][]byte, len(b.Indices))
		// TPM2_PCR_Read returns at most 8 digests per call: ask for what is
		// still missing until every index is read.
		for round := 0; len(got) < len(b.Indices); round++ {
			if round > len(b.Indices) {
				return nil, fmt.Errorf("reading PCRs %s: the TPM returns no values for bank %s (is the bank allocated?)", sel, b.Bank)
			}
			var missing []int
			for _, i := range b.Indices {
				if _, ok := got[i]; !ok {
					missing = append(missing, i)
				}
			}
			req := PCRSelection{{Bank: b.Bank, Indices: missing}}
			rsp, err := tpm2.PCRRead{PCRSelectionIn: req.tpml()}.Execute(t.t)
			if err != nil {
				return nil, fmt.Errorf("reading PCRs %s: %w", req, err)
			}
			k := 0
			for _, s := range rsp.PCRSelectionOut.PCRSelections {
				if s.Hash != alg {
					continue
				}
				for j := 0; j < len(s.PCRSelect)*8; j++ {
					if s.PCRSelect[j/8]&(1<<(j%8)) == 0 {
						continue
					}
					if k >= len(rsp.PCRValues.Digests) {
						return nil, fmt.Errorf("reading PCRs %s: the TPM returned fewer values than it selected", req)
					}
					v := rsp.PCRValues.Digests[k].Buffer
					k++
					if len(v) != h.Size() {
						return nil, fmt.Errorf("reading PCR %s:%d: %d bytes, want %d", b.Bank, j, len(v), h.Size())
					}
					got[j] = bytes.Clone(v)
				}
			}
			if k == 0 {
				return nil, fmt.Errorf("reading PCRs %s: the TPM returned no values (is bank %s allocated?)", req, b.Bank)
			}
		}
		for _, i := range b.Indices {
			out = append(out, PCRValue{Bank: b.Bank, Index: i, Value: got[i]})
		}
	}
	return out, nil
}
