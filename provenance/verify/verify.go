package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/attest-build/attest-build/attestca"
	"github.com/attest-build/attest-build/bootlog"
	"github.com/attest-build/attest-build/internal/strictjson"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/tpm"
)

// Limits on the attestation file, checked before the work they bound.
const (
	DefaultMaxAttestationBytes = 256 << 20
	DefaultMaxEnvelopes        = 16
	DefaultMaxSignatures       = 8
	DefaultMaxSubjects         = 1024
)

// Artifact is a file to verify: its name, whose last element must be the
// subject's, and SHA-256. Path, when set, is the file, hashed again for a
// subject that also names its sha384 or sha512 digest (a subject digest
// the verifier cannot compute is refused).
type Artifact struct {
	Name   string
	SHA256 [sha256.Size]byte
	Path   string
}

// ArtifactFromFile hashes the file at path.
func ArtifactFromFile(path string) (Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return Artifact{}, fmt.Errorf("reading artifact: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Artifact{}, fmt.Errorf("hashing artifact %s: %w", path, err)
	}
	a := Artifact{Name: path, Path: path}
	h.Sum(a.SHA256[:0])
	return a, nil
}

// Verifier verifies attestations against a policy. Build it with
// NewVerifier; it is safe for concurrent use.
type Verifier struct {
	policy  *policy.Policy
	signers []trustedKey
	// sigVerifiers[i] verifies signatures by signers[i].
	sigVerifiers []keyVerifier
	maxBytes     int64
	maxSubjects  int
	now          func() time.Time
	// cas are the policy's attestation CAs (nil: none).
	cas *caTrust
	// bootstrapUnsafe is set by InitPolicy only, which reads a reference
	// attestation to write a policy from it: the signature is checked only
	// when signer keys are given, the carried AK, builder id and TPM mode
	// are taken as they are, and the artifacts are the subjects. The
	// quotes, nonce, boot and IMA replay are checked as always.
	bootstrapUnsafe bool
	// collect, when set, receives every IMA entry in scope (InitPolicy).
	collect func(policy.Measurement)
	// baselines are the IMA baselines given (WithBaselines).
	baselines *baselines
}

// VerifierOption configures NewVerifier.
type VerifierOption func(*verifierConfig) error

type verifierConfig struct {
	extraSigners []crypto.PublicKey
	maxBytes     int64
	maxSubjects  int
	now          func() time.Time
	baselines    []string
}

// WithSignerKeys trusts these DSSE signer keys in addition to the policy's.
func WithSignerKeys(keys ...crypto.PublicKey) VerifierOption {
	return func(c *verifierConfig) error {
		for _, k := range keys {
			if k == nil {
				return fmt.Errorf("%w: nil signer key", policy.ErrPolicy)
			}
		}
		c.extraSigners = append(c.extraSigners, keys...)
		return nil
	}
}

// WithMaxAttestationBytes caps the attestation file (default
// DefaultMaxAttestationBytes).
func WithMaxAttestationBytes(n int64) VerifierOption {
	return func(c *verifierConfig) error {
		if n <= 0 {
			return fmt.Errorf("%w: attestation size limit %d", policy.ErrPolicy, n)
		}
		c.maxBytes = n
		return nil
	}
}

// WithMaxSubjects caps the subjects of a statement (default DefaultMaxSubjects).
func WithMaxSubjects(n int) VerifierOption {
	return func(c *verifierConfig) error {
		if n <= 0 {
			return fmt.Errorf("%w: subject limit %d", policy.ErrPolicy, n)
		}
		c.maxSubjects = n
		return nil
	}
}

// WithClock sets the clock the maximum age is measured against (tests).
func WithClock(now func() time.Time) VerifierOption {
	return func(c *verifierConfig) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", policy.ErrPolicy)
		}
		c.now = now
		return nil
	}
}

// NewVerifier checks that the policy and options make a usable verifier: at
// least one trusted signer key (the policy's or WithSignerKeys), at least one
// trusted attestation key and one accepted builder id. Errors match
// policy.ErrPolicy.
func NewVerifier(p *policy.Policy, opts ...VerifierOption) (*Verifier, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: no policy", policy.ErrPolicy)
	}
	cfg := verifierConfig{maxBytes: DefaultMaxAttestationBytes, maxSubjects: DefaultMaxSubjects, now: time.Now}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	keys, err := signerKeys(fromPolicy(p.Signers()), cfg.extraSigners)
	if err != nil {
		return nil, err
	}
	cas := newCATrust(p.AttestationKeyCAs())
	if len(keys) == 0 && cas == nil {
		return nil, fmt.Errorf("%w: no trusted signer key: name one under signers in the policy, or pass --key (or trust an attestation CA, attestationKeyCAs, whose AKs certify TPM-resident signing keys)", policy.ErrPolicy)
	}
	if len(p.AttestationKeys()) == 0 && cas == nil {
		return nil, fmt.Errorf("%w: the policy names no trusted attestation key (builders[].attestationKeys) and no attestation CA (attestationKeyCAs)", policy.ErrPolicy)
	}
	if len(p.BuilderIDs()) == 0 {
		return nil, fmt.Errorf("%w: the policy accepts no builder id (builderIds)", policy.ErrPolicy)
	}
	uniq, sv, err := signatureVerifiers(keys)
	if err != nil {
		return nil, err
	}
	return &Verifier{policy: p, signers: uniq, sigVerifiers: sv, maxBytes: cfg.maxBytes, maxSubjects: cfg.maxSubjects, now: cfg.now, cas: cas,
		baselines: newBaselines(cfg.baselines)}, nil
}

// trustedKey is a key the verifier trusts (policy.TrustedKey, or a key
// given with WithSignerKeys, named by its fingerprint).
type trustedKey struct {
	name        string
	pub         crypto.PublicKey
	fingerprint string
}

func fromPolicy(ks []policy.TrustedKey) []trustedKey {
	out := make([]trustedKey, len(ks))
	for i, k := range ks {
		out[i] = trustedKey{name: k.Name, pub: k.PublicKey, fingerprint: k.Fingerprint}
	}
	return out
}

func policyKeys(ks []trustedKey) []policy.TrustedKey {
	out := make([]policy.TrustedKey, len(ks))
	for i, k := range ks {
		out[i] = policy.TrustedKey{Name: k.name, PublicKey: k.pub, Fingerprint: k.fingerprint}
	}
	return out
}

// signerKeys returns the policy's signer keys followed by extra ones.
func signerKeys(policyKeys []trustedKey, extra []crypto.PublicKey) ([]trustedKey, error) {
	keys := slices.Clone(policyKeys)
	for i, k := range extra {
		fp, err := tpm.Fingerprint(k)
		if err != nil {
			return nil, fmt.Errorf("%w: signer key %d: %w", policy.ErrPolicy, i, err)
		}
		keys = append(keys, trustedKey{name: fp, pub: k, fingerprint: fp})
	}
	return keys, nil
}

// keyVerifier verifies signatures by one key, over a message hashed with
// hash (0: the whole message, for Ed25519).
type keyVerifier struct {
	signature.Verifier
	hash crypto.Hash
}

func newKeyVerifier(pub crypto.PublicKey) (keyVerifier, error) {
	ad, err := signature.GetDefaultAlgorithmDetails(pub)
	if err != nil {
		return keyVerifier{}, err
	}
	sv, err := signature.LoadVerifierFromAlgorithmDetails(pub, ad)
	if err != nil {
		return keyVerifier{}, err
	}
	return keyVerifier{Verifier: sv, hash: ad.GetHashType()}, nil
}

// signatureVerifiers returns the distinct keys and a signature verifier
// for each.
func signatureVerifiers(keys []trustedKey) ([]trustedKey, []keyVerifier, error) {
	seen := map[string]bool{}
	var verifiers []keyVerifier
	var uniq []trustedKey
	for _, s := range keys {
		if seen[s.fingerprint] {
			continue
		}
		seen[s.fingerprint] = true
		sv, err := newKeyVerifier(s.pub)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: signer key %s: %w", policy.ErrPolicy, s.fingerprint, err)
		}
		verifiers = append(verifiers, sv)
		uniq = append(uniq, s)
	}
	return uniq, verifiers, nil
}

// verification is the state of one Verify call: each field is set only once
// the check that covers it has passed.
type verification struct {
	v         *Verifier
	rep       *reporter
	artifacts []Artifact
	envs      []*envelope // read by the envelope check, payloads not yet trusted
	tpmStmt   *stmt
	slsaStmt  *stmt
	prov      *slsa.Provenance // the SLSA predicate, set by builder
	subjects  []predicates.Subject
	pred      *predicates.TPMIMA
	logB64    []byte    // pred's ima.log.data, base64, a slice of the statement
	detached  io.Reader // the detached IMA log (VerifyDetached), else nil
	ak        trustedKey
	// certSigner is the TPM-resident key whose signatures the signature
	// check accepted once it had checked its certification by a trusted
	// AK (nil: every envelope verified with a trusted key); certTried says
	// it was looked for (in the first envelope no trusted key verified).
	certSigner *certifiedSigner
	certTried  bool
	// signedBy names the keys whose signatures verified; unchecked is set
	// when policy init without signer keys read an envelope no key
	// verified.
	signedBy  map[string]bool
	unchecked bool
	akCert    *attestca.VerifiedAK  // the AK's certificate, when it is trusted by one
	keyIDs    []string              // the envelopes' key id hints
	verified  [2]*tpm.VerifiedQuote // start, end: set by the quote checks
	quotes    [2]*tpm.VerifiedQuote // start, end: set by same-boot
	ima       *IMAFacts             // set by ima-replay, findings included
	aggregate *bootAggregate        // IMA's boot_aggregate entry, set by ima-replay
	baseline  *verifiedBaseline     // the IMA baseline, set by ima-baseline when there is one
	boot      *bootlog.State        // set by boot-log when a log is carried
	// bootAggregate says how the log's first entry binds it to the boot
	// (set by ima-replay).
	bootAggregate string
}

// Verify reads one attestation file (DSSE envelopes, one per line) and
// verifies it for the given artifacts against the policy. It returns the
// report of a successful verification, or an error: a *CheckError (matching
// ErrVerification) naming the first failed check with the expected and found
// values and carrying the full report, or another error when attestation
// could not be read.
//
// The checks, in order (AllChecks); nothing in the attestation is used before
// the check that covers it has passed:
//  1. envelope: the file is at most the size limit, holds 1 to
//     DefaultMaxEnvelopes JSON DSSE envelopes (one per line), each with 1 to
//     DefaultMaxSignatures signatures.
//  2. signature: every envelope carries a signature that verifies, over the
//     DSSE pre-authentication encoding, with a trusted signer key (the
//     policy's signers and WithSignerKeys), checked as the envelope is
//     read: reading stops at the first envelope that fails. Key ids are
//     hints and ignored. With attestation CAs in the policy, the first
//     envelope no trusted key verifies must be the TPM/IMA statement
//     (attest-build writes it first) and is trusted, in this order, when
//     its signingKey verifies its signature, its AK is trusted as at check
//     8 (pinned, or certified by a policy CA) and that AK certified the
//     signingKey over nonce.start (attestca.VerifySigningKey); every later
//     envelope must verify with a trusted key or that certified key.
//  3. statement: payloadType is application/vnd.in-toto+json; each payload is
//     an in-toto Statement v1 (exact _type) that the in-toto bindings
//     validate, with at most the subject limit; exactly one has the TPM/IMA
//     predicateType and exactly one SLSA provenance v1; others are ignored.
//  4. subjects: every subject has a SHA-256 digest and a unique name; each
//     artifact's SHA-256 is among the TPM/IMA statement's subjects; the SLSA
//     statement has the same subjects.
//  5. builder: the SLSA predicate validates and its builder.id is accepted;
//     then source: when the policy has a source: rule, a
//     resolvedDependencies entry names its repository (git+URL@REF) at an
//     allowed ref and, when the rule names one, its commit (digest
//     gitCommit), and a GitHub workflow reference in
//     externalParameters.workflow names the same repository and an allowed
//     ref.
//  6. predicate: the TPM/IMA predicate decodes and validates.
//  7. tpm-mode: its TPM mode is accepted by the policy (device by default).
//  8. attestation-key: its AK public key is one the policy trusts, and its
//     TPMT_PUBLIC holds the same key. From here on the policy's key is used.
//     An AK not pinned by the policy is trusted by its carried certificate
//     chain to a policy CA (attestca.VerifyCarriedAK: valid at the build's
//     start and finish, not revoked, for this AK); the certificate's
//     enrollment class must allow tpm.mode and the builder id's mode
//     (attestca.CheckMode). A TPM-resident signer trusted at check 2 must
//     have been certified by this AK, of this statement.
//
// and then the evidence checks 9 to 20 (quotes, same boot, IMA baseline, IMA
// log and replay, boot log, golden PCRs, IMA rules, maximum age).
func (v *Verifier) Verify(ctx context.Context, attestation io.Reader, artifact Artifact, more ...Artifact) (*Report, error) {
	return v.VerifyDetached(ctx, attestation, nil, artifact, more...)
}

// VerifyDetached is Verify for an attestation whose IMA log was detached
// (attest-build --detach-log; the predicate says ima.log.detached): log
// reads the detached file, the uncompressed binary log, which the ima-replay
// check replays as a stream and whose SHA-256 must be the predicate's
// ima.log.sha256. A nil log is Verify: a detached log is then refused at
// the ima-log check. A log given for an attestation that carries its own is
// ignored.
func (v *Verifier) VerifyDetached(ctx context.Context, attestation, log io.Reader, artifact Artifact, more ...Artifact) (*Report, error) {
	vr, err := v.verify(ctx, attestation, sizeHint(attestation), append([]Artifact{artifact}, more...), log)
	if err != nil {
		return nil, err
	}
	rep := vr.rep.report
	return &rep, nil
}

// verify runs every check and returns the state they established.
func (v *Verifier) verify(ctx context.Context, attestation io.Reader, size int64, artifacts []Artifact, detached io.Reader) (*verification, error) {
	vr := &verification{v: v, rep: newReporter(), artifacts: artifacts, detached: detached}
	steps := []func() error{
		func() error { return vr.readEnvelopes(ctx, attestation, size) },
		vr.checkStatements,
		vr.checkSubjects,
		vr.checkBuilder,
		vr.checkSource,
		vr.checkPredicate,
		vr.checkMode,
		vr.checkAgree,
		vr.checkAK,
		vr.checkQuotes,
		func() error { return vr.checkSameBoot(vr.verified[0], vr.verified[1]) },
		vr.checkBaseline,
		func() error { return vr.checkIMA(vr.verified[1]) },
		vr.checkBootLog,
		vr.checkBootRules,
		vr.checkGoldenPCRs,
		vr.checkIMARules,
		vr.checkAge,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return vr, nil
}

// readEnvelopes runs the envelope and signature checks together: the file
// is read as JSON DSSE envelopes, one per line, within the size, envelope
// and signature caps, and each envelope's signature is checked as soon as
// it is read (checkEnvelopeSignature), so that an unsigned or forged file
// is refused after its first bad envelope: at most one unverified payload
// is ever held. Each payload is base64-decoded as it is read and kept,
// decoded, for its signature check.
func (vr *verification) readEnvelopes(ctx context.Context, attestation io.Reader, size int64) error {
	v := vr.v
	er := newEnvelopeReader(attestation, v.maxBytes, size)
	var envs []*envelope
	for {
		env, err := er.next()
		if err == io.EOF {
			break
		}
		var se *sourceError
		switch {
		case errors.As(err, &se):
			return se
		case errors.Is(err, errAttestationTooLarge):
			return vr.rep.fail(CheckEnvelope, ErrTooLarge, fmt.Sprintf("at most %d bytes", v.maxBytes), fmt.Sprintf("more than %d bytes", v.maxBytes))
		case errors.Is(err, ErrTooLarge):
			return vr.rep.fail(CheckEnvelope, err, fmt.Sprintf("envelope members other than the payload of at most %d bytes", maxEnvelopeMember), "more")
		case err != nil:
			return vr.rep.fail(CheckEnvelope, err, "a JSON DSSE envelope per line", fmt.Sprintf("line %d not one", er.line))
		}
		if len(envs) == DefaultMaxEnvelopes {
			return vr.rep.fail(CheckEnvelope, ErrTooLarge, fmt.Sprintf("at most %d envelopes", DefaultMaxEnvelopes), fmt.Sprintf("more (line %d)", env.line))
		}
		if n := len(env.signatures); n == 0 || n > DefaultMaxSignatures {
			return vr.rep.fail(CheckEnvelope, fmt.Errorf("%w: line %d", ErrMalformed, env.line), fmt.Sprintf("1 to %d signatures", DefaultMaxSignatures), fmt.Sprintf("%d", n))
		}
		if f := vr.checkEnvelopeSignature(env); f != nil {
			// The lines read so far are well formed; the rest of the
			// file is not read.
			vr.rep.pass(CheckEnvelope, fmt.Sprintf("lines 1-%d well formed; the rest not read (line %d refused by the signature check)", env.line, env.line))
			return vr.rep.fail(CheckSignature, f.err, f.expected, f.found)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		envs = append(envs, env)
	}
	if len(envs) == 0 {
		return vr.rep.fail(CheckEnvelope, fmt.Errorf("%w: no envelope", ErrMalformed), "at least one DSSE envelope", "an empty file")
	}
	vr.rep.pass(CheckEnvelope, fmt.Sprintf("%d envelope(s), %d bytes", len(envs), er.src.read))
	vr.envs = envs
	vr.passSignatures()
	return nil
}

// checkFailure is a failed check's reason, expected and found values,
// recorded by the caller.
type checkFailure struct {
	err             error
	expected, found string
}

// checkEnvelopeSignature checks one envelope's signature as it is read: it
// must verify with a trusted signer key, or, with attestation CAs in the
// policy, with the TPM-resident key the TPM/IMA statement names
// (certifiedSignerOf: trusted only once a trusted AK is shown to have
// certified it). That key is looked for in the first envelope that no
// trusted key verifies, which must therefore be the TPM/IMA statement's
// (attest-build writes it first); every later one must verify with a
// trusted key or that certified key. Nothing of an envelope is kept when
// its signature fails.
func (vr *verification) checkEnvelopeSignature(env *envelope) *checkFailure {
	v := vr.v
	// Key ids are unsigned hints: every trusted key is tried on every
	// signature; the ids are kept for the message.
	var hints []string
	for _, s := range env.signatures {
		hints = append(hints, orNone(s.KeyID))
		vr.keyIDs = append(vr.keyIDs, s.KeyID)
	}
	env.sum = hashPayload(env.payload) // beside the PAE digest, on the other core
	pae := newPAEDigests(env)
	accepted := v.verifyEnvelope(env, pae)
	var certFailure *checkFailure
	if len(accepted) == 0 && (v.cas != nil || v.bootstrapUnsafe) {
		if !vr.certTried {
			vr.certTried = true
			vr.certSigner, certFailure = vr.certifiedSignerOf(env, pae)
		}
		if vr.certSigner != nil && vr.certSigner.verifiesEnvelope(env, pae) {
			accepted = []trustedKey{vr.certSigner.key}
		}
	}
	if len(accepted) == 0 && v.bootstrapUnsafe && len(v.signers) == 0 {
		// policy init without signer keys: an envelope no key verified
		// leaves the signature unchecked as a whole.
		vr.unchecked = true
		return nil
	}
	if len(accepted) == 0 {
		trusted := vr.trustedFingerprints()
		if certFailure != nil {
			return certFailure
		}
		// The key ids are hints: a trusted key's id says the signature
		// fails; another id says another key signed; empty ones
		// (attest-build's and cosign's) say neither.
		var reason error = ErrUntrustedSigner
		for _, h := range env.signatures {
			switch {
			case slices.Contains(trusted, h.KeyID):
				reason = ErrBadSignature
			case h.KeyID == "" && reason == ErrUntrustedSigner:
				reason = errUnidentifiedSignature
			}
		}
		expected := "a signature by one of " + orNone(strings.Join(trusted, ", "))
		if vr.certSigner != nil {
			expected += ", or by the certified TPM-resident key " + vr.certSigner.key.fingerprint
		}
		return &checkFailure{fmt.Errorf("line %d: %w", env.line, reason), expected,
			"signature(s) with key id " + strings.Join(hints, ", ") + " that verify with none of them"}
	}
	if vr.signedBy == nil {
		vr.signedBy = map[string]bool{}
	}
	for _, k := range accepted {
		if vr.certSigner != nil && k.fingerprint == vr.certSigner.key.fingerprint {
			vr.signedBy[k.fingerprint+" (TPM-resident key certified by AK "+vr.certSigner.ak.key.fingerprint+")"] = true
			continue
		}
		vr.signedBy[vr.signerName(k.fingerprint)] = true
	}
	return nil
}

// passSignatures records the signature check once every envelope passed
// it (skipped only by policy init without signer keys).
func (vr *verification) passSignatures() {
	signers := vr.signedBy
	if vr.unchecked {
		signers, vr.certSigner = nil, nil
	}
	for s := range signers {
		vr.rep.report.Facts.Signers = append(vr.rep.report.Facts.Signers, s)
	}
	sort.Strings(vr.rep.report.Facts.Signers)
	if len(vr.v.signers) == 0 && len(signers) == 0 {
		vr.rep.report.Checks = append(vr.rep.report.Checks, CheckResult{Check: CheckSignature, Status: StatusSkipped, Detail: "not checked (no signer key given)"})
		return
	}
	vr.rep.pass(CheckSignature, "signed by "+strings.Join(vr.rep.report.Facts.Signers, ", "))
}

// checkStatements runs the statement check: every payload is an in-toto
// Statement v1, exactly one of the TPM/IMA predicate and one of SLSA
// provenance.
func (vr *verification) checkStatements() error {
	v := vr.v
	var tpmStmts, slsaStmts []*stmt
	var other []string
	for _, env := range vr.envs {
		if env.payloadType != predicates.PayloadType {
			return vr.rep.fail(CheckStatement, fmt.Errorf("%w: line %d: payloadType", ErrWrongType, env.line), predicates.PayloadType, orNone(env.payloadType))
		}
		s, err := env.parsed, error(nil)
		if s == nil {
			s, err = parseStatement(env.payload, v.maxSubjects)
		}
		if err != nil {
			return vr.rep.fail(CheckStatement, fmt.Errorf("line %d: %w", env.line, err), "an in-toto Statement v1", fmt.Sprintf("line %d: %v", env.line, err))
		}
		s.sum = env.sum
		switch s.PredicateType {
		case predicates.TPMIMAType:
			tpmStmts = append(tpmStmts, s)
		case predicates.SLSAProvenanceType:
			slsaStmts = append(slsaStmts, s)
		default:
			other = append(other, s.PredicateType)
		}
	}
	if len(tpmStmts) != 1 {
		return vr.rep.fail(CheckStatement, fmt.Errorf("%w: predicateType", ErrWrongType), "exactly one statement of predicateType "+predicates.TPMIMAType, fmt.Sprintf("%d (other types: %s)", len(tpmStmts), orNone(strings.Join(other, ", "))))
	}
	if len(slsaStmts) != 1 {
		return vr.rep.fail(CheckStatement, fmt.Errorf("%w: predicateType", ErrWrongType), "exactly one statement of predicateType "+predicates.SLSAProvenanceType, fmt.Sprintf("%d (other types: %s)", len(slsaStmts), orNone(strings.Join(other, ", "))))
	}
	vr.tpmStmt, vr.slsaStmt = tpmStmts[0], slsaStmts[0]
	detail := "TPM/IMA and SLSA provenance v1"
	if len(other) > 0 {
		detail += "; ignored: " + strings.Join(other, ", ")
	}
	vr.rep.pass(CheckStatement, detail)
	return nil
}

// verifyEnvelope returns the trusted keys with a signature of env that
// verifies over the DSSE pre-authentication encoding of its payload. The
// encoding is streamed to the hash, never assembled, and hashed once per
// hash function whatever the number of signatures and keys (paeDigests).
func (v *Verifier) verifyEnvelope(env *envelope, pae *paeDigests) []trustedKey {
	var accepted []trustedKey
	for _, s := range env.signatures {
		sig, err := decodeSig(s.Sig)
		if err != nil {
			continue
		}
		for i, k := range v.signers {
			if slices.ContainsFunc(accepted, func(a trustedKey) bool { return a.fingerprint == k.fingerprint }) {
				continue
			}
			if pae.verify(v.sigVerifiers[i], sig) {
				accepted = append(accepted, k)
			}
		}
	}
	return accepted
}

// paeDigests is an envelope's DSSE pre-authentication encoding and its
// digests, each computed once: an envelope of 8 signatures tried against
// every trusted key costs one pass over its payload per hash function, not
// one per signature and key.
type paeDigests struct {
	env     *envelope
	digests map[crypto.Hash][]byte
}

func newPAEDigests(env *envelope) *paeDigests {
	return &paeDigests{env: env, digests: map[crypto.Hash][]byte{}}
}

func (p *paeDigests) reader() io.Reader {
	header := fmt.Sprintf("DSSEv1 %d %s %d ", len(p.env.payloadType), p.env.payloadType, len(p.env.payload))
	return io.MultiReader(strings.NewReader(header), bytes.NewReader(p.env.payload))
}

// verify reports whether sig verifies with kv over the encoding.
func (p *paeDigests) verify(kv keyVerifier, sig []byte) bool {
	if kv.hash == 0 || !kv.hash.Available() { // Ed25519 signs the message itself
		return kv.VerifySignature(bytes.NewReader(sig), p.reader()) == nil
	}
	d, ok := p.digests[kv.hash]
	if !ok {
		h := kv.hash.New()
		if _, err := io.Copy(h, p.reader()); err != nil {
			return false
		}
		d = h.Sum(nil)
		p.digests[kv.hash] = d
	}
	return kv.VerifySignature(bytes.NewReader(sig), nil, options.WithDigest(d)) == nil
}

// decodeSig decodes a DSSE signature: standard base64, or URL-safe.
func decodeSig(s string) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		sig, err = base64.URLEncoding.DecodeString(s)
	}
	return sig, err
}

func (vr *verification) trustedFingerprints() []string {
	out := make([]string, len(vr.v.signers))
	for i, s := range vr.v.signers {
		out[i] = s.fingerprint
	}
	return out
}

func (vr *verification) signerName(fp string) string {
	for _, s := range vr.v.signers {
		if s.fingerprint == fp && s.name != "" && s.name != fp {
			return s.name + " (" + fp + ")"
		}
	}
	return fp
}

// stmt is a statement whose envelope verified.
type stmt struct {
	payload       []byte // the envelope's payload: the statement as signed
	PredicateType string
	Subjects      []*intoto.ResourceDescriptor
	Predicate     json.RawMessage
	// logData is where the predicate's ima.log.data lies in Predicate,
	// found by parseStatement's pass.
	logData strictjson.Span
	// sum is the payload's SHA-256 being hashed since the signature
	// check, or nil.
	sum *payloadSum
}

// payloadSHA256 returns the SHA-256 of the statement's payload bytes.
func (s *stmt) payloadSHA256() [sha256.Size]byte {
	if s.sum != nil {
		return s.sum.get()
	}
	return sha256.Sum256(s.payload)
}

// subjectsOf returns the statement's subjects, each with a SHA-256 digest
// and a unique name, sorted by name.
func subjectsOf(s *stmt) ([]predicates.Subject, error) {
	out := make([]predicates.Subject, 0, len(s.Subjects))
	for i, rd := range s.Subjects {
		hx := rd.GetDigest()["sha256"]
		d, err := hex.DecodeString(hx)
		if err != nil || len(d) != sha256.Size {
			return nil, fmt.Errorf("%w: subject[%d] %q has no sha256 digest", ErrMalformed, i, rd.GetName())
		}
		var sub predicates.Subject
		sub.Name = rd.GetName()
		copy(sub.SHA256[:], d)
		out = append(out, sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	for i := 1; i < len(out); i++ {
		if out[i].Name == out[i-1].Name {
			return nil, fmt.Errorf("%w: subject name %q appears twice", ErrMalformed, out[i].Name)
		}
	}
	return out, nil
}

func subjectList(ss []predicates.Subject) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.Name + "=sha256:" + hex.EncodeToString(s.SHA256[:])
	}
	return strings.Join(parts, ", ")
}

func (vr *verification) checkBuilder() error {
	var prov slsa.Provenance
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(vr.slsaStmt.Predicate, &prov); err != nil {
		return vr.rep.fail(CheckBuilder, fmt.Errorf("%w: SLSA predicate: %w", ErrMalformed, err), "SLSA provenance v1", "undecodable")
	}
	if err := prov.Validate(); err != nil {
		return vr.rep.fail(CheckBuilder, fmt.Errorf("%w: SLSA predicate: %w", ErrMalformed, err), "valid SLSA provenance v1", "invalid")
	}
	id := prov.GetRunDetails().GetBuilder().GetId()
	if !slices.Contains(vr.v.policy.BuilderIDs(), id) && !vr.v.bootstrapUnsafe {
		return vr.rep.fail(CheckBuilder, ErrBuilderID, "one of "+strings.Join(vr.v.policy.BuilderIDs(), ", "), id)
	}
	vr.prov = &prov
	vr.rep.report.Facts.BuilderID = id
	vr.rep.pass(CheckBuilder, id)
	return nil
}

func (vr *verification) checkPredicate() error {
	var p *predicates.TPMIMA
	var logB64 []byte
	var err error
	if c := vr.certSigner; c != nil && c.stmt == vr.tpmStmt {
		p, logB64 = c.pred, c.logB64 // decoded by the signature check
	} else {
		p, logB64, err = decodeCheckedTPMIMA(vr.tpmStmt.Predicate, vr.tpmStmt.logData)
	}
	if err != nil {
		return vr.rep.fail(CheckPredicate, fmt.Errorf("%w: %w", ErrMalformed, err), "a TPM/IMA predicate", "undecodable")
	}
	if err := p.Validate(); err != nil {
		return vr.rep.fail(CheckPredicate, fmt.Errorf("%w: %w", ErrMalformed, err), "a valid TPM/IMA predicate", "invalid")
	}
	if p.IMA.Log != nil {
		p.IMA.Log.Data = nil // a placeholder: the log is read from logB64
	}
	vr.pred, vr.logB64 = p, logB64
	vr.rep.pass(CheckPredicate, "")
	return nil
}

func (vr *verification) checkMode() error {
	mode := vr.pred.TPM.Mode
	if !slices.Contains(vr.v.policy.TPMModes(), mode) && !vr.v.bootstrapUnsafe {
		return vr.rep.fail(CheckTPMMode, ErrTPMMode, "one of "+strings.Join(vr.v.policy.TPMModes(), ", "), mode)
	}
	vr.rep.report.Facts.TPMMode = mode
	vr.rep.pass(CheckTPMMode, mode)
	return nil
}

func (vr *verification) checkAK() error {
	t, f := vr.trustAK(vr.pred)
	if f != nil {
		return vr.rep.fail(CheckAttestationKey, f.err, f.expected, f.found)
	}
	fp := vr.pred.AttestationKey.Fingerprint
	detail := t.detail
	if t.cert != nil {
		if err := vr.checkModeClass(t.cert.Class); err != nil {
			return err
		}
		vr.akCert = t.cert
		vr.rep.report.Facts.AKCA = t.key.name
		vr.rep.report.Facts.AKClass = string(t.cert.Class)
	}
	if c := vr.certSigner; c != nil {
		// The signature check trusted the signer by this statement's AK.
		if c.stmt != vr.tpmStmt || c.ak.key.fingerprint != t.key.fingerprint {
			return vr.rep.fail(CheckAttestationKey, ErrUntrustedSigner, "the AK "+c.ak.key.fingerprint+" that certified the DSSE signer "+c.key.fingerprint, t.key.fingerprint)
		}
		detail += "; it certified the DSSE signer " + c.key.fingerprint + " (checked at signature)"
	}
	vr.ak = t.key
	vr.rep.report.Facts.AKFingerprint = fp
	vr.rep.report.Facts.AKBuilder = t.key.name
	vr.rep.pass(CheckAttestationKey, fp+detail)
	return nil
}

func parsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	return cryptoutils.UnmarshalPEMToPublicKey(b)
}
