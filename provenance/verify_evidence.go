package provenance

import (
	"context"
	"crypto"
	"errors"
)

// errNotWired: the quote and IMA checks wait for the tpm and evidence
// packages (being merged); until then Verify refuses every attestation.
var errNotWired = errors.New("quote and IMA verification not wired yet")

func sameKeyAsTPMTPublic(_ []byte, _ crypto.PublicKey) error { return errNotWired }

func (vr *verification) verifyEvidence(context.Context) error {
	return vr.rep.fail(CheckQuoteSignature, errNotWired, "", "")
}
