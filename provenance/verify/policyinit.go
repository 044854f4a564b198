package verify

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/attest-build/attest-build/provenance/policy"
)

// PolicyInitOptions configure InitPolicy.
type PolicyInitOptions struct {
	// Scope of the IMA rules: policy.ScopeBoot (default) or policy.ScopeWindow.
	Scope policy.IMAScope
	// SignerKeys, when given, must verify the attestation's envelopes and
	// become the policy's signers. Without them the signature is not checked
	// and the policy names no signer (pass --key to verify).
	SignerKeys []crypto.PublicKey
	// Source names the attestation in the policy's header comment.
	Source string
	// Now stamps the header (default time.Now).
	Now func() time.Time
	// RuntimePolicy, when set, receives an allowlist longer than
	// policy.MaxInlineAllow paths as a Keylime runtime policy, which the
	// policy names (policy.Reference.RuntimePolicy).
	RuntimePolicy *policy.RuntimePolicyOutput
	// DetachedLog reads the detached IMA log of an attestation made with
	// --detach-log (see VerifyDetached); nil when it has none.
	DetachedLog io.Reader
	// Baselines are the IMA baseline files or directories an attestation
	// that continues one needs (WithBaselines).
	Baselines []string
}

// InitPolicy writes a starting policy (YAML, commented for review) from a
// known-good attestation: its signer (when SignerKeys are given), its
// attestation key, builder id and TPM mode, the PCR values of its end quote
// (PCR 10 left out: it changes with every measurement) and every path
// measured in the IMA scope with its digests.
//
// The attestation is checked first as Verify would, except that its
// attestation key, builder id and TPM mode are taken from it and its
// subjects are the artifacts: the quotes, the nonce, the boot and the IMA
// replay must hold. A policy from a simulator or swtpm attestation accepts
// that mode, and says so.
func InitPolicy(ctx context.Context, attestation io.Reader, opts PolicyInitOptions) ([]byte, error) {
	if opts.Scope == "" {
		opts.Scope = policy.ScopeBoot
	}
	if _, err := policy.ParseIMAScope(string(opts.Scope)); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	boot := policy.ReferenceUnsafe(opts.Scope)
	files, err := baselineFiles(opts.Baselines)
	if err != nil {
		return nil, err
	}
	v := &Verifier{policy: boot, maxBytes: DefaultMaxAttestationBytes, maxSubjects: DefaultMaxSubjects, now: opts.Now, bootstrapUnsafe: true, baselines: newBaselines(files)}
	if len(opts.SignerKeys) > 0 {
		keys, err := signerKeys(nil, opts.SignerKeys)
		if err != nil {
			return nil, err
		}
		if v.signers, v.sigVerifiers, err = signatureVerifiers(keys); err != nil {
			return nil, err
		}
	}
	ref := policy.NewReferenceIMA()
	v.collect = ref.Add
	h := sha256.New()
	vr, err := v.verify(ctx, io.TeeReader(attestation, h), sizeHint(attestation), nil, opts.DetachedLog)
	if err != nil {
		return nil, fmt.Errorf("the reference attestation does not verify: %w", err)
	}
	bootReason := "none carried"
	if b := vr.rep.report.Facts.Boot; b != nil && b.Reason != "" {
		bootReason = b.Reason
	}
	return policy.FromReference(&policy.Reference{
		Source:        opts.Source,
		SHA256:        hex.EncodeToString(h.Sum(nil)),
		Now:           opts.Now(),
		Scope:         opts.Scope,
		Signers:       policyKeys(vr.v.signers),
		KeyIDs:        vr.keyIDs,
		AK:            policy.TrustedKey{Name: vr.ak.name, PublicKey: vr.ak.pub, Fingerprint: vr.ak.fingerprint},
		AKCA:          certifiedCA(vr),
		BuilderID:     vr.rep.report.Facts.BuilderID,
		TPMMode:       vr.pred.TPM.Mode,
		PCRs:          vr.quotes[1].PCRs,
		IMA:           vr.pred.IMA,
		Entries:       ref,
		RuntimePolicy: opts.RuntimePolicy,
		Boot:          vr.boot,
		BootReason:    bootReason,
	})
}

// certifiedCA returns the attestation CA of a reference whose AK has a
// certificate from it and whose envelopes were signed by the TPM-resident
// key that AK certified, else nil.
func certifiedCA(vr *verification) *x509.Certificate {
	if vr.akCert == nil || vr.certSigner == nil {
		return nil
	}
	return vr.akCert.Chain[len(vr.akCert.Chain)-1]
}
