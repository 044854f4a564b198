package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/tpm"
)

// ErrBaseline reports an attestation whose IMA baseline is missing, does
// not verify, or does not fit it (another boot, another attestation key, a
// position or PCR value that differs from the attestation's).
var ErrBaseline = errors.New("IMA baseline")

// WithBaselines gives the IMA baseline files (attest-build baseline, or a
// build's --baseline-dir) that attestations with ima.baseline continue:
// files, or directories whose *.baseline.intoto.jsonl files are taken.
// Each baseline is verified once per Verifier, when an attestation first
// names it, and its result kept for the others.
func WithBaselines(paths ...string) VerifierOption {
	return func(c *verifierConfig) error {
		files, err := baselineFiles(paths)
		c.baselines = append(c.baselines, files...)
		return err
	}
}

// baselineFiles expands directories into their baseline files.
func baselineFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%w: baseline: %w", policy.ErrPolicy, err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		des, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("%w: baseline directory: %w", policy.ErrPolicy, err)
		}
		for _, de := range des {
			if de.Type().IsRegular() && strings.HasSuffix(de.Name(), predicates.BaselineFileSuffix) {
				files = append(files, filepath.Join(p, de.Name()))
			}
		}
	}
	return files, nil
}

// baselines are the verifier's baseline files, indexed by statement digest
// as they are first needed, and the verified baselines by digest.
type baselines struct {
	mu       sync.Mutex
	unread   []string          // files not yet indexed
	byDigest map[string]string // statement digest -> file
	verified map[string]*verifiedBaseline
}

func newBaselines(files []string) *baselines {
	return &baselines{unread: files, byDigest: map[string]string{}, verified: map[string]*verifiedBaseline{}}
}

// verifiedBaseline is a baseline's outcome: the facts the attestations
// continuing it are checked against, or the failure.
type verifiedBaseline struct {
	path          string
	akFingerprint string
	quote         *tpm.VerifiedQuote
	bank          string
	entries       int
	pcrValue      []byte
	logBytes      int64
	tally         policy.IMATally // the rules over its entries and its previous ones' (boot scope)
	bootAggregate string
	aggregate     *bootAggregate
	// failure: the baseline does not verify (expected, found)
	err             error
	expected, found string
}

// verifiedBaseline returns the verified baseline of the digest, verifying
// it (with the attestation's trusted AK) the first time; nil when no file
// holds it.
func (vr *verification) baselineOf(digest string) (*verifiedBaseline, error) {
	b := vr.v.baselines
	b.mu.Lock()
	defer b.mu.Unlock()
	return vr.baselineOfLocked(digest, 0)
}

// maxChain bounds a chain of baselines (one per build of a boot).
const maxChain = 100_000

// baselineOfLocked is baselineOf with the lock held; depth counts the
// baselines after this one in a chain.
func (vr *verification) baselineOfLocked(digest string, depth int) (*verifiedBaseline, error) {
	b := vr.v.baselines
	if depth > maxChain {
		return nil, fmt.Errorf("%w: a chain of more than %d baselines", ErrTooLarge, maxChain)
	}
	if vb, ok := b.verified[digest]; ok {
		return vb, nil
	}
	path, ok := b.byDigest[digest]
	var envs []*envelope
	for !ok && len(b.unread) > 0 {
		p := b.unread[0]
		b.unread = b.unread[1:]
		es, d, err := readBaselineFile(p, vr.v.maxBytes)
		if err != nil {
			return nil, fmt.Errorf("reading the IMA baseline %s: %w", p, err)
		}
		b.byDigest[d] = p
		if d == digest {
			path, envs, ok = p, es, true
		}
	}
	if !ok {
		return nil, nil
	}
	if envs == nil {
		var err error
		var d string
		if envs, d, err = readBaselineFile(path, vr.v.maxBytes); err != nil {
			return nil, fmt.Errorf("reading the IMA baseline %s: %w", path, err)
		}
		if d != digest {
			return nil, fmt.Errorf("reading the IMA baseline %s: it changed since it was first read", path)
		}
	}
	vb := vr.verifyBaseline(path, envs, depth)
	b.verified[digest] = vb
	return vb, nil
}

// readBaselineFile reads a baseline file's envelopes (one) and returns the
// digest of its statement ("sha256:" hex of the payload).
func readBaselineFile(path string, max int64) ([]*envelope, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	er := newEnvelopeReader(f, max, sizeHint(f))
	env, err := er.next()
	if err != nil {
		return nil, "", fmt.Errorf("a DSSE envelope: %w", err)
	}
	if _, err := er.next(); err != io.EOF {
		return nil, "", fmt.Errorf("%w: more than one envelope", ErrMalformed)
	}
	sum := sha256.Sum256(env.payload)
	return []*envelope{env}, "sha256:" + hex.EncodeToString(sum[:]), nil
}

// verifyBaseline verifies a baseline statement in full, in order: signed
// by a trusted signer key (or the TPM-resident key the attestation's AK
// certified); an in-toto statement of predicateType
// predicates.BaselineType whose one subject is the log; the predicate
// valid; its AK the attestation's trusted AK (fingerprint and
// TPMT_PUBLIC); the quote signed by it over the recorded nonce, its PCR
// values those of pcrDigest; for a baseline that continues another
// (ima.previous), that one verified (the same way, once) and fitting as an
// attestation's baseline must (fitsBaseline, against this quote); the log
// (within the policy's limits, its bank one the policy accepts) replays,
// every entry for PCR 10 with its template hash, from the previous
// baseline's PCR 10 or from zero with entry 0 IMA's boot_aggregate of the
// quoted PCRs 0-9, to the quoted PCR 10 after exactly its entries, with the
// declared byte length and SHA-256 (the subject's); and, in boot scope, the
// policy's IMA rules over its entries (and the previous ones') are tallied.
func (vr *verification) verifyBaseline(path string, envs []*envelope, depth int) *verifiedBaseline {
	v := vr.v
	fail := func(err error, expected, found string) *verifiedBaseline {
		return &verifiedBaseline{path: path, err: fmt.Errorf("%w %s: %w", ErrBaseline, path, err), expected: expected, found: found}
	}
	env := envs[0]
	// A TPM-resident signer (-k tpm) that the attestation's AK certified
	// (checked at the signature check) lives in the TPM that quoted the
	// baseline too (same AK, checked below): its signature is accepted.
	pae := newPAEDigests(env)
	certified := vr.certSigner != nil && vr.certSigner.verifiesEnvelope(env, pae)
	if len(v.verifyEnvelope(env, pae)) == 0 && !certified && !(v.bootstrapUnsafe && len(v.signers) == 0) {
		return fail(ErrUntrustedSigner, "a signature by one of "+strings.Join(vr.trustedFingerprints(), ", "), "none that verifies")
	}
	s, err := parseStatement(env.payload, 1)
	if err != nil || env.payloadType != predicates.PayloadType {
		return fail(fmt.Errorf("%w: not an in-toto statement: %v", ErrMalformed, err), "an in-toto Statement v1", "not one")
	}
	if s.PredicateType != predicates.BaselineType {
		return fail(ErrWrongType, predicates.BaselineType, s.PredicateType)
	}
	// The log's base64 text is read as a stream by the replay, never
	// decoded whole (as an attestation's).
	pp, logB64, err := decodeWithLog[predicates.Baseline](s.Predicate, s.logData)
	if err != nil {
		return fail(fmt.Errorf("%w: predicate: %w", ErrMalformed, err), "a baseline predicate", "undecodable")
	}
	p := *pp
	if err := p.Validate(); err != nil {
		return fail(fmt.Errorf("%w: predicate: %w", ErrMalformed, err), "a valid baseline predicate", "invalid")
	}
	if len(s.Subjects) != 1 || s.Subjects[0].GetName() != predicates.BaselineSubject || s.Subjects[0].GetDigest()["sha256"] != p.IMA.Log.SHA256 {
		return fail(fmt.Errorf("%w: subject", ErrMalformed), "one subject "+predicates.BaselineSubject+" sha256:"+p.IMA.Log.SHA256, fmt.Sprint(s.Subjects))
	}
	pub, err := parsePublicKeyPEM([]byte(p.AttestationKey.PublicKeyPEM))
	if err != nil {
		return fail(fmt.Errorf("%w: attestationKey: %w", ErrMalformed, err), "a PEM public key", "undecodable")
	}
	fp, err := tpm.Fingerprint(pub)
	if err != nil {
		return fail(fmt.Errorf("%w: attestationKey: %w", ErrMalformed, err), "a PEM public key", "unusable")
	}
	if fp != vr.ak.fingerprint {
		return fail(fmt.Errorf("%w: another attestation key", ErrUntrustedAK), "the attestation's AK "+vr.ak.fingerprint, fp)
	}
	if err := sameKeyAsTPMTPublic(p.AttestationKey.TPMTPublic, vr.ak.pub); err != nil {
		return fail(fmt.Errorf("%w: attestationKey.tpmtPublic: %w", ErrUntrustedAK, err), "the TPMT_PUBLIC of "+fp, "another key")
	}
	nonce, _ := hex.DecodeString(p.Nonce) // checked by Validate
	q, err := tpm.VerifyQuote(p.Quote.Attest, p.Quote.Signature, vr.ak.pub, tpm.VerifyOptions{Nonce: nonce, PCRs: tpmPCRs(p.Quote.PCRs)})
	if err != nil {
		exp, found := "a quote signed by "+fp+" over the recorded nonce and PCR values", err.Error()
		var me *tpm.MismatchError
		if errors.As(err, &me) {
			exp, found = me.Expected, me.Found
		}
		return fail(fmt.Errorf("quote: %w", err), exp, found)
	}
	pol := v.policy.IMA()
	if !slices.Contains(pol.Banks(), p.IMA.Bank) {
		return fail(fmt.Errorf("%w: %s", ErrIMABank, p.IMA.Bank), "one of "+strings.Join(pol.Banks(), ", ")+" (ima.banks)", p.IMA.Bank)
	}
	if p.IMA.Log.Entries > pol.MaxEntries() || p.IMA.LogBytes > pol.MaxLogBytes() {
		return fail(fmt.Errorf("%w: the baseline's log", ErrTooLarge), fmt.Sprintf("at most %d entries, %d bytes (ima.maxEntries, ima.maxLogBytes)", pol.MaxEntries(), pol.MaxLogBytes()), fmt.Sprintf("%d entries, %d bytes", p.IMA.Log.Entries, p.IMA.LogBytes))
	}
	pcr := quotedPCR(q, p.IMA.Bank, imaPCR)
	if pcr == nil {
		return fail(fmt.Errorf("%w: PCR 10 not quoted", ErrIMALog), p.IMA.Bank+":10 in the quote", "missing")
	}
	vb := &verifiedBaseline{path: path, akFingerprint: fp, quote: q, bank: p.IMA.Bank, entries: p.Position(), pcrValue: pcr}
	var prev *verifiedBaseline
	if ref := p.IMA.Previous; ref != nil {
		if prev, err = vr.baselineOfLocked(ref.Digest, depth+1); err != nil {
			return fail(err, "a readable previous baseline "+ref.Digest, err.Error())
		}
		if prev == nil {
			return fail(errors.New("its previous baseline is missing"), "the baseline statement "+ref.Digest+" (ima.previous)", "none among the baseline files")
		}
		if prev.err != nil {
			return &verifiedBaseline{path: path, err: fmt.Errorf("%w %s: previous: %w", ErrBaseline, path, prev.err), expected: prev.expected, found: prev.found}
		}
		if what, exp, found := prev.fits(fp, q, p.IMA.Bank, ref); what != "" {
			return fail(fmt.Errorf("previous baseline %s: %s", prev.path, what), exp, found)
		}
	}
	if f := vr.replayBaseline(&p, logB64, q, pcr, vb, prev); f != nil {
		return f
	}
	return vb
}

// fits reports how the baseline b does not fit what continues it (an
// attestation's start quote, or a later baseline's quote, q by the AK
// akFingerprint, and ref, its ima.baseline or ima.previous): what, with
// expected and found; "" when it fits: the same attestation key, the same
// boot (resetCount, restartCount, firmware version and qualified signer
// equal, b's clock not after q's), bank, position and PCR value.
func (b *verifiedBaseline) fits(akFingerprint string, q *tpm.VerifiedQuote, bank string, ref *predicates.IMABaseline) (what, expected, found string) {
	bq := b.quote
	switch {
	case b.akFingerprint != akFingerprint:
		return "another attestation key", akFingerprint, b.akFingerprint
	case bq.ClockInfo.ResetCount != q.ClockInfo.ResetCount || bq.ClockInfo.RestartCount != q.ClockInfo.RestartCount:
		return "another boot", fmt.Sprintf("resetCount %d, restartCount %d (the later quote's)", q.ClockInfo.ResetCount, q.ClockInfo.RestartCount),
			fmt.Sprintf("resetCount %d, restartCount %d", bq.ClockInfo.ResetCount, bq.ClockInfo.RestartCount)
	case bq.ClockInfo.Clock > q.ClockInfo.Clock:
		return "quoted after what continues it", fmt.Sprintf("clock at most %d (the later quote's)", q.ClockInfo.Clock), fmt.Sprint(bq.ClockInfo.Clock)
	case bq.FirmwareVersion != q.FirmwareVersion || !bytes.Equal(bq.QualifiedSigner, q.QualifiedSigner):
		return "another TPM firmware or AK name", fmt.Sprintf("firmware %s, qualified signer %x", tpm.FormatFirmwareVersion(q.FirmwareVersion), q.QualifiedSigner),
			fmt.Sprintf("firmware %s, qualified signer %x", tpm.FormatFirmwareVersion(bq.FirmwareVersion), bq.QualifiedSigner)
	case b.bank != bank:
		return "another bank", bank, b.bank
	case b.entries != ref.Entries:
		return "another position", fmt.Sprintf("%d entries (as named)", ref.Entries), fmt.Sprintf("%d entries in the baseline", b.entries)
	case !strings.EqualFold(hex.EncodeToString(b.pcrValue), ref.PCRValue):
		return "another PCR 10 value", ref.PCRValue + " (as named)", hex.EncodeToString(b.pcrValue) + " (the baseline quote's)"
	}
	return "", "", ""
}

// replayBaseline replays a baseline's log (checks listed at
// verifyBaseline) into vb; a failure is returned as a failed baseline.
func (vr *verification) replayBaseline(p *predicates.Baseline, logB64 []byte, q *tpm.VerifiedQuote, pcr []byte, vb, prev *verifiedBaseline) *verifiedBaseline {
	pol := vr.v.policy.IMA()
	fail := func(err error, expected, found string) *verifiedBaseline {
		return &verifiedBaseline{path: vb.path, err: fmt.Errorf("%w %s: %w", ErrBaseline, vb.path, err), expected: expected, found: found}
	}
	bank, _ := evidence.ParseBank(p.IMA.Bank) // checked by Validate
	text := &b64Reader{text: logB64}
	zr, err := decompressor(p.IMA.Log.Encoding, text)
	if err != nil {
		return fail(fmt.Errorf("%w: log: %w", ErrMalformed, err), p.IMA.Log.Encoding, "not that encoding")
	}
	first, offset, initial := 0, int64(0), make([]byte, bank.Size())
	var replayOpts []evidence.ReplayOption
	ev := pol.NewEvaluation(vr.v.collect) // policy init collects the baseline's entries too
	boot := pol.Scope() == policy.ScopeBoot
	if prev != nil {
		first, offset, initial = prev.entries, prev.logBytes, prev.pcrValue
		replayOpts = append(replayOpts, evidence.WithInitialValue(initial))
		vb.aggregate, vb.bootAggregate = prev.aggregate, prev.bootAggregate
		if boot {
			ev.AddTally(prev.tally)
		}
	}
	capped := &cappedReader{r: zr, n: p.IMA.LogBytes - offset, h: sha256.New()}
	r, err := evidence.NewReader(capped, evidence.WithMaxEntries(p.IMA.Log.Entries), evidence.WithFirstIndex(first))
	if err != nil || r.Format() != evidence.FormatBinary || r.Compressed() {
		return fail(fmt.Errorf("%w: log format", ErrMalformed), "binary_runtime_measurements", "another form")
	}
	var templates policy.TemplateCache
	var template predicates.LogTemplate
	var failed *verifiedBaseline
	n := first
	last := initial
	visit := func(e *evidence.Entry, value []byte, herr error) bool {
		if n == 0 {
			compared, err := evidence.CheckBootAggregate(e, func(b evidence.Bank) [][]byte {
				var out [][]byte
				for i := range evidence.BootAggregatePCRs(b) {
					v := quotedPCR(q, b.String(), i)
					if v == nil {
						return nil
					}
					out = append(out, v)
				}
				return out
			})
			if err != nil {
				failed = fail(fmt.Errorf("%w: %w", ErrIMALog, err), "entry 0: boot_aggregate, the hash of the baseline quote's PCRs 0-9", fmt.Sprintf("%s %s:%x", orNone(e.Path), e.FileDigestAlg, e.FileDigest))
				return false
			}
			vb.bootAggregate = "not bound: the baseline quote does not cover " + e.FileDigestAlg + " PCRs 0-9"
			if compared {
				vb.bootAggregate = "equals the baseline quote's " + e.FileDigestAlg + " PCRs 0-9"
			}
			if e.Path == "boot_aggregate" && len(e.FileDigest) > 0 {
				vb.aggregate = &bootAggregate{alg: e.FileDigestAlg, digest: bytes.Clone(e.FileDigest)}
			}
		}
		if e.PCR != imaPCR {
			failed = fail(fmt.Errorf("%w: entry %d", ErrIMALog, e.Index), "entries for PCR 10", fmt.Sprintf("PCR %d", e.PCR))
			return false
		}
		if herr != nil {
			failed = fail(fmt.Errorf("%w: %w", ErrIMALog, herr), "template hashes of the template data", "a mismatch")
			return false
		}
		template.Add(e.TemplateName)
		if boot {
			ev.Add(templates.Measurement(e))
		}
		n++
		last = value
		return true
	}
	if boot {
		replayOpts = append(replayOpts, evidence.WithPathsFrom(0))
	}
	err = evidence.ReplayEntries(r, bank, imaPCR, visit, replayOpts...)
	if failed != nil {
		return failed
	}
	if err != nil {
		return fail(fmt.Errorf("%w: log: %w", ErrMalformed, err), fmt.Sprintf("a well-formed log of %d entries, %d bytes", p.IMA.Log.Entries, p.IMA.LogBytes), err.Error())
	}
	if n != first+p.IMA.Log.Entries {
		return fail(fmt.Errorf("%w: entry count", ErrIMALog), fmt.Sprintf("%d entries (ima.log.entries)", p.IMA.Log.Entries), fmt.Sprint(n-first))
	}
	if !bytes.Equal(last, pcr) {
		return fail(fmt.Errorf("%w: the log does not replay to the baseline quote", ErrIMALog), "the quote's PCR 10 "+hex.EncodeToString(pcr), hex.EncodeToString(last)+fmt.Sprintf(" after %d entries", n))
	}
	if _, err := io.Copy(io.Discard, capped); err != nil || capped.n != 0 {
		return fail(fmt.Errorf("%w: log length", ErrIMALog), fmt.Sprintf("%d bytes (ima.logBytes)", p.IMA.LogBytes), "another length")
	}
	if !text.consumed() {
		return fail(fmt.Errorf("%w: ima.log.data", ErrMalformed), "base64 of the compressed log and nothing after it", "text after the compressed stream")
	}
	if sum := hex.EncodeToString(capped.h.Sum(nil)); sum != p.IMA.Log.SHA256 {
		return fail(fmt.Errorf("%w: log SHA-256", ErrIMALog), p.IMA.Log.SHA256, sum)
	}
	if template.String() != p.IMA.Template {
		return fail(fmt.Errorf("%w: ima.template", ErrIMALog), template.String(), orNone(p.IMA.Template))
	}
	vb.tally, vb.logBytes = ev.Tally(), p.IMA.LogBytes
	return nil
}

// checkBaseline is check ima-baseline: an attestation whose log continues
// a baseline (ima.baseline) has it among the verifier's baselines (by the
// SHA-256 of its statement), the baseline verifies (verifyBaseline, once
// per Verifier), and it fits: the same attestation key, the same boot
// (resetCount, restartCount, firmware version and qualified signer equal to
// the start quote's, the baseline quote's clock not after it), bank,
// position and PCR value as ima.baseline says. An attestation without one
// passes.
func (vr *verification) checkBaseline() error {
	ref := vr.pred.IMA.Baseline
	if ref == nil {
		vr.rep.pass(CheckIMABaseline, "none: the log is carried from boot")
		return nil
	}
	vb, err := vr.baselineOf(ref.Digest)
	if err != nil {
		return vr.rep.fail(CheckIMABaseline, fmt.Errorf("%w: %w", ErrBaseline, err), "a readable baseline file", err.Error())
	}
	if vb == nil {
		return vr.rep.fail(CheckIMABaseline, fmt.Errorf("%w %s: missing", ErrBaseline, ref.Digest), "the baseline statement "+ref.Digest+" (verify --baseline FILE or DIR)", fmt.Sprintf("none among %d baseline file(s)", len(vr.v.baselines.byDigest)+len(vr.v.baselines.unread)))
	}
	if vb.err != nil {
		return vr.rep.fail(CheckIMABaseline, vb.err, vb.expected, vb.found)
	}
	if what, exp, found := vb.fits(vr.ak.fingerprint, vr.quotes[0], vr.pred.IMA.Bank, ref); what != "" {
		return vr.rep.fail(CheckIMABaseline, fmt.Errorf("%w %s: %s", ErrBaseline, vb.path, what), exp, found)
	}
	vr.baseline = vb
	vr.rep.pass(CheckIMABaseline, fmt.Sprintf("%s (%s): %d entries replay to its quote's PCR 10; same AK and boot", ref.Digest, vb.path, vb.entries))
	return nil
}
