package verify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/attest-build/attest-build/internal/buildinfo"
	"github.com/attest-build/attest-build/provenance/policy"
)

// Check names one step of Verify. The steps run in the order of AllChecks(),
// cheapest refusal first; the first that fails stops the verification.
type Check string

// The checks of Verify, in order.
const (
	CheckEnvelope       Check = "envelope"         // size caps, one DSSE envelope per line
	CheckSignature      Check = "signature"        // every envelope signed by a trusted key
	CheckStatement      Check = "statement"        // payloadType, in-toto Statement v1, predicateTypes
	CheckSubjects       Check = "subjects"         // each artifact's SHA-256 among the subjects; SLSA subjects equal
	CheckBuilder        Check = "builder"          // SLSA builder.id accepted by the policy
	CheckSource         Check = "source"           // SLSA source repository, ref and commit as the policy's source: (when it has one)
	CheckPredicate      Check = "predicate"        // the TPM/IMA predicate well formed
	CheckTPMMode        Check = "tpm-mode"         // TPM mode accepted by the policy
	CheckAgree          Check = "statements-agree" // both statements describe one build: mode, parameters, times, byproducts; exit status 0
	CheckAttestationKey Check = "attestation-key"  // the AK named by the policy
	CheckQuoteSignature Check = "quote-signature"  // both quotes signed by that AK
	CheckNonce          Check = "nonce"            // start nonce as recorded; end nonce from the subjects
	CheckPCRDigest      Check = "pcr-digest"       // carried PCR values hash to each quote's pcrDigest
	CheckSameBoot       Check = "same-boot"        // same resetCount and restartCount, clock advanced
	CheckIMABaseline    Check = "ima-baseline"     // the IMA baseline the log continues: given, verified, same AK and boot
	CheckIMALog         Check = "ima-log"          // IMA evidence present as required, within limits
	CheckIMAReplay      Check = "ima-replay"       // log prefixes replay to PCR 10 of both quotes at the window bounds
	CheckBootLog        Check = "boot-log"         // the firmware event log replays to PCRs 0-9 of both quotes; boot_aggregate
	CheckBootRules      Check = "boot-rules"       // the boot state obeys the policy's boot section
	CheckGoldenPCRs     Check = "golden-pcrs"      // quoted PCRs equal the policy's
	CheckIMARules       Check = "ima-rules"        // violations, deny, allowlist over the entries in scope
	CheckMaxAge         Check = "max-age"          // the build finished recently enough
)

// AllChecks returns the checks in the order Verify runs them (a new slice).
func AllChecks() []Check { return slices.Clone(allChecks[:]) }

var allChecks = [...]Check{
	CheckEnvelope, CheckSignature, CheckStatement, CheckSubjects, CheckBuilder, CheckSource, CheckPredicate,
	CheckTPMMode, CheckAgree, CheckAttestationKey, CheckQuoteSignature, CheckNonce, CheckPCRDigest, CheckSameBoot,
	CheckIMABaseline, CheckIMALog, CheckIMAReplay, CheckBootLog, CheckBootRules, CheckGoldenPCRs, CheckIMARules, CheckMaxAge,
}

// Status is the outcome of one check.
type Status string

// Check outcomes. A check that did not run because an earlier one failed is
// StatusSkipped; one the policy does not ask for passes with a note.
const (
	StatusPass    Status = "pass"
	StatusFail    Status = "fail"
	StatusSkipped Status = "skipped"
)

// CheckResult is one line of a Report.
type CheckResult struct {
	Check    Check  `json:"check"`
	Status   Status `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Expected string `json:"expected,omitempty"`
	Found    string `json:"found,omitempty"`
}

// Report lists every check with its outcome and the facts established by
// the checks that passed. A fact is filled in only once the check that
// covers it has passed; in the report of a failed verification the facts
// are those established before the failure.
type Report struct {
	Verdict Status        `json:"verdict"`
	Checks  []CheckResult `json:"checks"`
	Facts   Facts         `json:"facts"`
}

// Facts are what a verification established, for display.
type Facts struct {
	Signers   []string          `json:"signers,omitempty"` // names or fingerprints of the keys that signed
	Subjects  []VerifiedSubject `json:"subjects,omitempty"`
	BuilderID string            `json:"builderId,omitempty"`
	TPMMode   string            `json:"tpmMode,omitempty"`
	// AKFingerprint is the fingerprint of the trusted attestation key and
	// AKBuilder the policy's builder name for it.
	AKFingerprint string `json:"akFingerprint,omitempty"`
	AKBuilder     string `json:"akBuilder,omitempty"`
	// AKCA names the attestation CA that certified the AK (when the policy
	// trusts it by its CA) and AKClass the class of EK anchor the TPM was
	// enrolled under (hardware, software).
	AKCA       string     `json:"akCa,omitempty"`
	AKClass    string     `json:"akClass,omitempty"`
	IMA        *IMAFacts  `json:"ima,omitempty"`
	Boot       *BootFacts `json:"boot,omitempty"`
	FinishedOn *time.Time `json:"finishedOn,omitempty"`
	// SignersWord lists the members of the statements that no check
	// covers: the DSSE signer's word only (SignersWord()).
	SignersWord []string `json:"signersWord,omitempty"`
}

// VerifiedSubject is one verified subject of the attestation.
type VerifiedSubject struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// IMAFacts summarise the replayed IMA log and the rules applied to it.
type IMAFacts struct {
	Present     bool            `json:"present"`
	Bank        string          `json:"bank,omitempty"`
	LogEntries  int             `json:"logEntries"`
	WindowStart int             `json:"windowStart"`
	WindowEnd   int             `json:"windowEnd"`
	Scope       policy.IMAScope `json:"scope,omitempty"`
	// BootAggregate says how the log's first entry binds it to the boot:
	// equal to the quoted PCRs 0-9, or not bound when the quotes do not
	// cover them.
	BootAggregate string `json:"bootAggregate,omitempty"`
	// Baseline is the IMA baseline the carried log continues ("sha256:"
	// digest of its statement), else "": LogEntries then counts the
	// carried entries, from the baseline's position on.
	Baseline string `json:"baseline,omitempty"`
	// InScope entries were subject to the rules; Excluded of them matched an
	// exclude; Violations are violation entries in scope.
	InScope    int `json:"inScope"`
	Excluded   int `json:"excluded"`
	Violations int `json:"violations"`
	// Unchecked entries in scope are of templates the verifier cannot
	// decode into a path and digest, accepted unchecked by ima.templates.
	Unchecked int `json:"unchecked,omitempty"`
	// Findings are the entries that broke a rule (at most maxFindings).
	Findings []policy.IMAFinding `json:"findings,omitempty"`
	// FindingsTotal counts every entry that broke a rule.
	FindingsTotal int `json:"findingsTotal,omitempty"`
}

// addTally sets the counts and findings of the rules' evaluation.
func (f *IMAFacts) addTally(t policy.IMATally) {
	f.InScope, f.Excluded, f.Violations, f.Unchecked = t.InScope, t.Excluded, t.Violations, t.Unchecked
	f.Findings, f.FindingsTotal = t.Findings, t.FindingsTotal
}

// ErrVerification matches every *CheckError: the attestation was read but
// does not satisfy the policy. Errors that do not match it are I/O or usage
// trouble (an unreadable file), not a verdict.
var ErrVerification = errors.New("verification failed")

// Reasons a check fails, for errors.Is; tpm and evidence sentinels are
// wrapped as they are.
var (
	ErrTooLarge        = errors.New("over a size limit")
	ErrMalformed       = errors.New("malformed")
	ErrUntrustedSigner = errors.New("not signed by a trusted key")
	ErrBadSignature    = errors.New("signature does not verify")
	// errUnidentifiedSignature: no signature verifies with a trusted key
	// and the empty key ids cannot say whether one of them signed: it
	// matches both ErrBadSignature and ErrUntrustedSigner.
	errUnidentifiedSignature error = unidentifiedSignature{}
	ErrWrongType                   = errors.New("unexpected type")
	ErrSubjectMissing              = errors.New("artifact not among the subjects")
	ErrSubjectsMismatch            = errors.New("statements' subjects differ")
	ErrBuilderID                   = errors.New("builder id not accepted")
	ErrTPMMode                     = errors.New("TPM mode not accepted")
	ErrUntrustedAK                 = errors.New("attestation key not trusted")
	ErrReboot                      = errors.New("TPM reset or restarted during the build")
	ErrIMAMissing                  = errors.New("IMA evidence required")
	ErrIMALog                      = errors.New("IMA log does not match its quotes")
	ErrIMABank                     = errors.New("IMA bank not accepted by the policy")
	ErrGoldenPCR                   = errors.New("PCR differs from the golden value")
	ErrIMARule                     = errors.New("IMA entries break the policy")
	ErrTooOld                      = errors.New("attestation too old")
	// ErrStatementsDisagree: the SLSA statement describes another build
	// than the TPM/IMA statement (mode, parameters, times, byproducts).
	ErrStatementsDisagree = errors.New("the statements describe different builds")
	// ErrFailedBuild: the attestation is of a build that failed.
	ErrFailedBuild = errors.New("the build failed")
)

type unidentifiedSignature struct{}

func (unidentifiedSignature) Error() string {
	return "no signature verifies with a trusted key (changed after signing, or signed by another key: the empty key id does not say which)"
}

func (unidentifiedSignature) Is(target error) bool {
	return target == ErrBadSignature || target == ErrUntrustedSigner
}

// CheckError is a failed check: which one, what was expected and what was
// found. Report lists every check (the ones after it skipped) and the facts
// established before the failure.
type CheckError struct {
	Check    Check
	Expected string
	Found    string
	Err      error
	Report   *Report
}

func (e *CheckError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "check %s failed", e.Check)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Expected != "" || e.Found != "" {
		fmt.Fprintf(&b, " (expected %s, found %s)", orNone(e.Expected), orNone(e.Found))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (e *CheckError) Unwrap() error { return e.Err }

// Is makes every CheckError match ErrVerification.
func (e *CheckError) Is(target error) bool { return target == ErrVerification }

// reporter records check outcomes in order.
type reporter struct {
	report Report
}

func newReporter() *reporter {
	return &reporter{report: Report{Verdict: StatusPass}}
}

func (r *reporter) pass(c Check, detail string) {
	r.report.Checks = append(r.report.Checks, CheckResult{Check: c, Status: StatusPass, Detail: detail})
}

// fail records the failure, marks every later check skipped and returns the
// error that Verify returns.
func (r *reporter) fail(c Check, err error, expected, found string) error {
	r.report.Verdict = StatusFail
	r.report.Checks = append(r.report.Checks, CheckResult{Check: c, Status: StatusFail, Detail: errText(err), Expected: expected, Found: found})
	seen := false
	for _, k := range allChecks {
		if k == c {
			seen = true
			continue
		}
		if seen {
			r.report.Checks = append(r.report.Checks, CheckResult{Check: k, Status: StatusSkipped})
		}
	}
	rep := r.report
	return &CheckError{Check: c, Expected: expected, Found: found, Err: err, Report: &rep}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// VerifyOutput is what `attest-build verify --format json` prints: the overall
// verdict and one result per attestation file. Deploy scripts and tests decode
// it; its JSON shape is a public contract.
type VerifyOutput struct {
	Verdict Status              `json:"verdict"`
	Results []AttestationResult `json:"results"`
	// Tool is the attest-build that verified: module version, VCS
	// revision, Go version (buildinfo.Read).
	Tool *buildinfo.Info `json:"tool,omitempty"`
}

// AttestationResult is one attestation file's outcome for the artifacts that
// named it: the verdict, the error that refused it (if any), every check and
// the facts established by the checks that passed.
type AttestationResult struct {
	Attestation string        `json:"attestation"`
	Artifacts   []string      `json:"artifacts"`
	Verdict     Status        `json:"verdict"`
	Error       string        `json:"error,omitempty"`
	Checks      []CheckResult `json:"checks"`
	Facts       Facts         `json:"facts"`
}
