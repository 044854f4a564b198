package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/policy"
)

// VSAType is the predicateType of a SLSA Verification Summary Attestation v1.
const VSAType = "https://slsa.dev/verification_summary/v1"

// VerifierID is the VSA verifier.id of attest-build verify.
const VerifierID = "https://github.com/attest-build/attest-build/verifier/v0.1"

// VSA results.
const (
	VSAPassed = "PASSED"
	VSAFailed = "FAILED"
)

// Verified levels a VSA names beside SLSA_BUILD_LEVEL_1 (docs/verify.md).
// They are this project's own: each says which TPM/IMA evidence was
// checked, never more than the report shows.
const (
	// LevelTPMDevice: both quotes by a trusted AK of a hardware TPM
	// (mode device) verified, bound to the subjects, same boot.
	LevelTPMDevice = "ATTEST_BUILD_TPM_DEVICE_QUOTED_V0"
	// LevelTPMSoftware: the same on a software TPM (swtpm) or the
	// embedded simulator: the evidence was checked, but proves nothing
	// about hardware.
	LevelTPMSoftware = "ATTEST_BUILD_TPM_SOFTWARE_QUOTED_V0"
	// LevelIMAReplayed: an IMA log was carried and replayed to PCR 10 of
	// both quotes, and the policy's IMA rules passed over it.
	LevelIMAReplayed = "ATTEST_BUILD_IMA_REPLAYED_V0"
	// LevelGoldenPCRs: the quoted PCRs equal the policy's golden values
	// (the policy names at least one).
	LevelGoldenPCRs = "ATTEST_BUILD_GOLDEN_PCRS_V0"
	// LevelSLSABuild1: SLSA Build L1, provenance exists and its subjects
	// are the artifacts. attest-build claims no higher build level: the
	// signing key lives on the build machine (docs/threat-model.md).
	LevelSLSABuild1 = "SLSA_BUILD_LEVEL_1"
)

// VSAInput is one verified attestation file.
type VSAInput struct {
	// URI names the file (e.g. file:///abs/path or an https URL); Content
	// is its bytes, hashed for the digest.
	URI     string
	Content []byte
	// Result is the file's verification outcome.
	Result AttestationResult
}

// VSAOptions describe a verification for its summary.
type VSAOptions struct {
	// ResourceURI is the URI of the verified artifact (the VSA's
	// resourceUri). Required.
	ResourceURI string
	// Policy is the policy verified against, PolicyURI where it is and
	// PolicyContent its bytes (hashed for policy.digest).
	Policy        *policy.Policy
	PolicyURI     string
	PolicyContent []byte
	// Inputs are the attestation files verified.
	Inputs []VSAInput
	// Subjects are the verified artifacts, the VSA's subjects.
	Subjects []Artifact
	// TimeVerified is when; zero means now.
	TimeVerified time.Time
}

// vsaPredicate is the VSA v1 predicate, in the specification's field order.
type vsaPredicate struct {
	Verifier struct {
		ID      string            `json:"id"`
		Version map[string]string `json:"version"`
	} `json:"verifier"`
	TimeVerified       string            `json:"timeVerified"`
	ResourceURI        string            `json:"resourceUri"`
	Policy             vsaDescriptor     `json:"policy"`
	InputAttestations  []vsaDescriptor   `json:"inputAttestations"`
	VerificationResult string            `json:"verificationResult"`
	VerifiedLevels     []string          `json:"verifiedLevels"`
	DependencyLevels   map[string]uint64 `json:"dependencyLevels,omitempty"`
	SLSAVersion        string            `json:"slsaVersion"`
}

type vsaDescriptor struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

// VSAStatement returns the in-toto statement of a Verification Summary
// Attestation v1 for a verification: subjects the verified artifacts,
// verifier id and version, timeVerified, resourceUri, the policy's URI and
// SHA-256, each input attestation's URI and SHA-256, the result (PASSED only
// when every input passed) and the verified levels (VerifiedLevels). It is
// for the caller to sign (provenance.Signer.SignStatement).
func VSAStatement(opts VSAOptions) ([]byte, error) {
	if opts.ResourceURI == "" {
		return nil, errors.New("verification summary: no resourceUri")
	}
	if u, err := url.Parse(opts.ResourceURI); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("verification summary: resourceUri %q is not an absolute URI", opts.ResourceURI)
	}
	if opts.Policy == nil || opts.PolicyURI == "" || opts.PolicyContent == nil {
		return nil, errors.New("verification summary: no policy (policy, its URI and its content)")
	}
	if len(opts.Inputs) == 0 {
		return nil, errors.New("verification summary: no input attestation")
	}
	if len(opts.Subjects) == 0 {
		return nil, errors.New("verification summary: no subject")
	}
	t := opts.TimeVerified
	if t.IsZero() {
		t = time.Now()
	}
	var p vsaPredicate
	p.Verifier.ID = VerifierID
	p.Verifier.Version = map[string]string{"attest-build": provenance.Version()}
	p.TimeVerified = t.UTC().Format(time.RFC3339)
	p.ResourceURI = opts.ResourceURI
	p.Policy = vsaDescriptor{URI: opts.PolicyURI, Digest: sha256Digest(opts.PolicyContent)}
	var results []AttestationResult
	for _, in := range opts.Inputs {
		if in.URI == "" {
			return nil, errors.New("verification summary: an input attestation without a URI")
		}
		p.InputAttestations = append(p.InputAttestations, vsaDescriptor{URI: in.URI, Digest: sha256Digest(in.Content)})
		results = append(results, in.Result)
	}
	p.VerificationResult = VSAFailed
	p.VerifiedLevels = []string{}
	if levels := VerifiedLevels(opts.Policy, results); levels != nil {
		p.VerificationResult, p.VerifiedLevels = VSAPassed, levels
	}
	p.SLSAVersion = "1.0"
	subjects := make([]predicates.Subject, len(opts.Subjects))
	for i, a := range opts.Subjects {
		subjects[i] = predicates.Subject{Name: a.Name, SHA256: a.SHA256}
	}
	return provenance.MarshalStatement(subjects, VSAType, p)
}

// VerifiedLevels returns the levels a VSA may claim for verifications that
// all passed against pol, nil when any failed: SLSA_BUILD_LEVEL_1, then
// the project's levels each result supports (a level is claimed only when
// every result supports it).
func VerifiedLevels(pol *policy.Policy, results []AttestationResult) []string {
	if len(results) == 0 {
		return nil
	}
	for _, r := range results {
		if r.Verdict != StatusPass {
			return nil
		}
	}
	all := func(ok func(AttestationResult) bool) bool {
		for _, r := range results {
			if !ok(r) {
				return false
			}
		}
		return true
	}
	levels := []string{LevelSLSABuild1}
	switch {
	case all(func(r AttestationResult) bool { return r.Facts.TPMMode == predicates.ModeDevice }):
		levels = append(levels, LevelTPMDevice)
	default:
		levels = append(levels, LevelTPMSoftware)
	}
	if all(func(r AttestationResult) bool { return r.Facts.IMA != nil && r.Facts.IMA.Present }) {
		levels = append(levels, LevelIMAReplayed)
	}
	if len(pol.GoldenPCRs()) > 0 {
		levels = append(levels, LevelGoldenPCRs)
	}
	return levels
}

func sha256Digest(b []byte) map[string]string {
	sum := sha256.Sum256(b)
	return map[string]string{"sha256": hex.EncodeToString(sum[:])}
}
