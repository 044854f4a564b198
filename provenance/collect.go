package provenance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	intoto "github.com/in-toto/attestation/go/v1"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/attest-build/attest-build/predicates"
)

// DefaultIMALog is where the kernel exposes the IMA measurement log.
const DefaultIMALog = "/sys/kernel/security/ima/binary_runtime_measurements"

// IMAPCR is the PCR the kernel extends with IMA measurements.
const IMAPCR = 10

// TPMSession is a TPM opened for a moment. Attest opens one session for the
// start quote and one for the end quote and closes each before going on, so
// the TPM is never held open while the build runs (on /dev/tpm0 that would
// lock out every other user, the build included).
type TPMSession interface {
	// Info describes the TPM: mode, manufacturer, firmware, EK
	// certificates.
	Info() (predicates.TPM, error)
	// AttestationKey describes the key that quotes.
	AttestationKey() (predicates.AttestationKey, error)
	// Quote quotes the session's PCR selection with the attestation key
	// over qualifyingData (at most 32 bytes). The returned PCR values are
	// the ones the quote's pcrDigest covers.
	Quote(qualifyingData []byte) (predicates.Quote, error)
	// PCRSelection names the quoted PCRs, e.g. "sha256:0-10".
	PCRSelection() string
	Close() error
}

// TPMOpener opens a TPMSession.
type TPMOpener func() (TPMSession, error)

// Options configure Attest.
type Options struct {
	// Command is the build. Command.Dir is the working directory (""
	// for the current one); subjects and the default output are relative
	// to it.
	Command Command
	// Artifacts are glob patterns naming the subjects (MatchArtifacts:
	// inside the working directory, symbolic links resolved).
	// Without them the subjects are the regular files the build created or
	// modified under the working directory (Snapshot.Changed).
	Artifacts []string
	// Output is the attestation file. Default: "<subject>.intoto.jsonl"
	// beside a single subject, else "attestation.intoto.jsonl" in the
	// working directory; a default that resolves outside the working
	// directory is refused (ErrOutsideWorkDir).
	Output string
	// Signer signs both statements. Required.
	Signer *Signer
	// TPM opens the TPM for each quote. Required.
	TPM TPMOpener
	// IMALog is the IMA log to read; "" means DefaultIMALog, except with
	// the embedded simulator (see ReasonSimulatorIMA). A log that does not
	// exist gives a predicate with ima.present=false.
	IMALog string
	// BootLog is the firmware event log to read; "" means DefaultBootLog,
	// except with the embedded simulator (see ReasonSimulatorBootLog).
	// CollectBootLog says when it is carried.
	BootLog string
	// BuilderID is a custom SLSA builder id (see BuilderID).
	BuilderID string
	// Progress, when not nil, is told of each step (hashing, reading the
	// IMA log, waiting for the TPM) that takes longer than ProgressAfter:
	// give a terminal's stderr, never a log.
	Progress io.Writer
	// Bundle also writes each signed statement as a Sigstore bundle v0.3
	// beside the output (MarshalBundle, BundlePath).
	Bundle bool
	// DetachLog writes the carried IMA log as a file of its own beside the
	// output (DetachedLogPath: the uncompressed bytes, whose SHA-256 the
	// predicate's ima.log.sha256 holds) instead of inside the TPM/IMA
	// predicate, which then says ima.log.detached: true.
	DetachLog bool
	// Baseline, when set, is the IMA baseline (MakeBaseline, LoadBaseline)
	// whose log the attestation continues: it carries only the entries
	// after the baseline's position and names the baseline
	// (ima.baseline). A baseline of another boot or attestation key, or one
	// the log does not continue, is an error (ErrBaselineMismatch).
	Baseline *BaselineRef
	// BaselineDir, when not "" (and Baseline nil), is a directory of
	// baselines, a chain per boot and attestation key (BaselinePrefix):
	// before its start quote each build makes a baseline (MakeBaseline)
	// that continues the latest there, or the first of the boot, and
	// continues it; the attestation and the new baseline each carry only
	// the entries since the one before. The verifier needs the directory
	// (verify --baseline DIR).
	BaselineDir string
}

// ReasonSimulatorIMA is the ima.reason of an attestation made with the
// embedded simulator and no explicit IMA log: the kernel extends its
// measurements into the machine's TPM, never into the simulator, so the
// kernel's log cannot match the simulator's PCR 10 and is not read.
const ReasonSimulatorIMA = "the TPM is the embedded simulator: the kernel's IMA log is extended into the machine's TPM, not the simulator, so it cannot be bound to these quotes (give --ima-log to attest a log whose PCR 10 the simulator holds)"

// BuildError reports a build that failed or was interrupted. Attest wrote no
// attestation. ExitStatus is the status attest-build should exit with: the
// build's own, or 128+N when signal N interrupted a build that then exited 0.
type BuildError struct {
	ExitStatus int
	Signal     os.Signal
}

func (e *BuildError) Error() string {
	if e.Signal != nil {
		return fmt.Sprintf("the build was interrupted by %v (exit status %d); no attestation written", e.Signal, e.ExitStatus)
	}
	return fmt.Sprintf("the build failed with exit status %d; no attestation written", e.ExitStatus)
}

// InterruptedError reports SIGINT, SIGTERM or SIGHUP received by Attest
// outside the build (before it started, or while the subjects were hashed,
// quoted and signed): Attest stopped and wrote nothing.
type InterruptedError struct {
	Signal os.Signal
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("attesting the build: interrupted by %v; no attestation written", e.Signal)
}

// Result is a build's attestation.
type Result struct {
	Run      *RunResult
	Subjects []predicates.Subject
	// Output is the path of the written .intoto.jsonl file.
	Output string
	// Envelopes are the file's lines: the TPM/IMA statement's envelope,
	// then the SLSA provenance statement's.
	Envelopes [][]byte
	Predicate *predicates.TPMIMA
	// Bundles are the Sigstore bundle files written (Options.Bundle), in
	// the order of Envelopes.
	Bundles []string
	// DetachedLog is the detached IMA log file written (Options.DetachLog
	// and an IMA log present), else "".
	DetachedLog string
	// Baseline is the IMA baseline the attestation continues (the
	// verifier needs it: verify --baseline), else nil; BaselineMade says
	// this build made it (Options.BaselineDir).
	Baseline     *BaselineRef
	BaselineMade bool
}

// Attest runs a build between two TPM quotes and writes its signed
// attestation:
//
//  1. with no Artifacts, snapshot the working directory;
//  2. open the TPM, quote (start) with a fresh random 32-byte nonce, close it;
//  3. run the build (Run); a failed or interrupted build returns a
//     *BuildError and writes nothing;
//  4. find and hash the subjects; the end nonce is SubjectsNonce(subjects);
//  5. open the TPM, check it has the same attestation key, quote (end),
//     close it;
//  6. read the IMA log and fix the build's window by matching the quoted
//     PCR 10 values against prefixes of the log (CollectIMA); read the
//     firmware event log and carry it when it replays to the end quote's
//     PCRs 0-9 (CollectBootLog);
//  7. assemble the TPM/IMA predicate and SLSA provenance v1 for the same
//     subjects, sign each into a DSSE envelope, and write both, one per
//     line, atomically to the output.
//
// SIGINT, SIGTERM and SIGHUP are forwarded to the build while it runs (Run);
// before and after it they stop Attest at the next step with an
// *InterruptedError, and nothing is written (a cancelled ctx likewise).
func Attest(ctx context.Context, opts Options) (*Result, error) {
	// Signals are caught for the whole of Attest, not only while the build
	// runs (Run forwards them then), so that one arriving while the
	// attestation is assembled stops it between steps instead of killing
	// the process with a temporary file behind.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, forwardedSignals()...)
	defer signal.Stop(sigs)
	return attest(ctx, opts, func() error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("attesting the build: %w", err)
		}
		select {
		case s := <-sigs:
			return &InterruptedError{Signal: s}
		default:
			return nil
		}
	})
}

// attest is Attest; stopped reports a signal or a cancelled ctx, and is
// checked between steps.
func attest(ctx context.Context, opts Options, stopped func() error) (*Result, error) {
	a, err := newAttestation(ctx, opts)
	if err != nil {
		return nil, err
	}
	a.stopped = stopped
	// The stages of Attest's doc, in order; stopped is checked before each
	// stage that says so. The last check comes before the write: once it
	// has begun it runs to the end (a signal no longer kills the process),
	// and the temporary file is removed on any error.
	// A stage with a description is announced on opts.Progress when it
	// takes longer than ProgressAfter.
	stages := []struct {
		checkStop bool
		run       func() error
		what      string
	}{
		{false, a.source, "recording the git source"},
		{false, a.snapshot, "recording the working directory"},
		{true, a.baseline, "making the IMA baseline"},
		{true, a.quoteStart, "waiting for the TPM (start quote)"},
		{true, a.build, ""},
		{true, a.hashSubjects, "hashing the artifacts"},
		{true, a.quoteEnd, "waiting for the TPM (end quote)"},
		{false, a.collectIMA, "reading the IMA log"},
		{false, a.collectBootLog, "reading the boot log"},
		{false, a.tpmIMAStatement, ""},
		{false, a.slsaStatement, ""},
		{true, a.sign, "signing"},
		{false, a.openOutput, ""},
		{true, a.write, ""},
	}
	defer func() {
		if a.out != nil {
			a.out.close()
		}
	}()
	for _, st := range stages {
		if st.checkStop {
			if err := stopped(); err != nil {
				return nil, err
			}
		}
		done := slowStep(opts.Progress, st.what, ProgressAfter)
		err := st.run()
		done()
		if err != nil {
			return nil, err
		}
	}
	return &Result{Run: a.run, Subjects: a.subjects, Output: a.output, Envelopes: a.envelopes, Predicate: a.pred,
		Bundles: a.bundles, DetachedLog: a.detachedLog, Baseline: a.base, BaselineMade: a.baseMade}, nil
}

// attestation is the state of one attest call; each stage fills in what
// the later ones read.
type attestation struct {
	ctx     context.Context
	stopped func() error // a signal or a cancelled ctx (attest's)
	opts    Options
	cmd     Command // the build, its Dir absolute
	dir     string
	imaPath string
	output  string // "" until openOutput when not given
	out     *outputFile

	src        *intoto.ResourceDescriptor // read before the build
	invocation string

	snap                 *Snapshot // with no Artifacts
	startNonce           []byte
	tpmInfo              predicates.TPM
	ak                   predicates.AttestationKey
	signingKey           *predicates.SigningKey // the TPM signing key's certification (-k tpm)
	startQuote, endQuote predicates.Quote
	sel                  string
	run                  *RunResult
	subjects             []predicates.Subject
	endNonce             []byte
	construction         string
	ima                  *predicates.IMA
	rawLog               []byte // the log to detach (DetachLog), else nil
	base                 *BaselineRef
	baseMade             bool
	bootLog              *predicates.BootLog
	pred                 *predicates.TPMIMA
	tpmStmt, slsaStmt    []byte
	envelopes            [][]byte
	bundles              []string
	detachedLog          string
}

// newAttestation checks the options and resolves the working directory,
// the IMA log and the output path.
func newAttestation(ctx context.Context, opts Options) (*attestation, error) {
	if opts.Signer == nil {
		return nil, errors.New("attesting a build: no signing key")
	}
	if opts.TPM == nil {
		return nil, errors.New("attesting a build: no TPM")
	}
	if len(opts.Command.Argv) == 0 {
		return nil, errors.New("attesting a build: no build command")
	}
	dir := opts.Command.Dir
	if dir == "" {
		dir = "."
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("attesting a build: %w", err)
	}
	a := &attestation{ctx: ctx, opts: opts, cmd: opts.Command, dir: dir, imaPath: opts.IMALog, output: opts.Output}
	a.cmd.Dir = dir
	if a.imaPath == "" {
		a.imaPath = DefaultIMALog
	}
	if a.output != "" && !filepath.IsAbs(a.output) {
		a.output = filepath.Join(dir, a.output)
	}
	// What can be known to fail is found before the build and the quotes.
	if err := CheckArtifactPatterns(opts.Artifacts); err != nil {
		return nil, fmt.Errorf("attesting a build: %w", err)
	}
	if a.output != "" {
		if err := checkOutputWritable(a.output); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// source reads the source repository and commit (SourceFromEnv) before the
// build runs: the build could rewrite .git.
func (a *attestation) source() error {
	a.src, a.invocation = SourceFromEnv(a.ctx, a.dir, a.env())
	return nil
}

// env is the environment the build runs in (before the secrets are
// removed from it).
func (a *attestation) env() []string {
	if a.cmd.Env != nil {
		return a.cmd.Env
	}
	return os.Environ()
}

// snapshot records the working directory when the subjects are to be
// found by what the build changes (no Artifacts).
func (a *attestation) snapshot() error {
	if len(a.opts.Artifacts) > 0 {
		return nil
	}
	var err error
	a.snap, err = TakeSnapshot(a.dir)
	return err
}

// baseline picks the IMA baseline: the given one, or this boot's in
// BaselineDir, made now if there is none (before the start quote: a
// baseline's position is at most the build's start).
func (a *attestation) baseline() error {
	a.base = a.opts.Baseline
	if a.base != nil || a.opts.BaselineDir == "" {
		return nil
	}
	var err error
	a.base, a.baseMade, err = dirBaseline(a.ctx, a.opts)
	if err != nil {
		return fmt.Errorf("the IMA baseline in %s: %w", a.opts.BaselineDir, err)
	}
	return nil
}

// quoteStart quotes with a fresh random 32-byte nonce.
func (a *attestation) quoteStart() error {
	a.startNonce = make([]byte, 32)
	if _, err := rand.Read(a.startNonce); err != nil {
		return fmt.Errorf("making the start nonce: %w", err)
	}
	var err error
	a.tpmInfo, a.ak, a.startQuote, a.sel, err = quoteOnce(a.opts.TPM, a.startNonce, "")
	if err != nil {
		return fmt.Errorf("start quote: %w", err)
	}
	if a.opts.Signer.InTPM() {
		// The AK certifies the signing key over the start nonce: fresh
		// evidence, for this build, that the key lives in the quoting TPM.
		if a.signingKey, err = certifyTPMKey(a.opts.Signer.tpm, a.startNonce); err != nil {
			return fmt.Errorf("certifying the TPM signing key: %w", err)
		}
	}
	return nil
}

// build runs the build command; a failed or interrupted build is a
// *BuildError.
func (a *attestation) build() error {
	run, err := Run(a.ctx, a.cmd)
	if err != nil {
		return err
	}
	if len(run.Ended) > 0 {
		fmt.Fprintf(or[io.Writer](a.cmd.Stderr, os.Stderr), "attest-build: the build left %d process(es) running after it exited; ended them before hashing: %s\n", len(run.Ended), describeEnded(run.Ended))
	}
	if run.Failed() {
		status := run.ExitStatus
		if status == 0 {
			status = 128 + int(run.Signal.(syscall.Signal))
		}
		return &BuildError{ExitStatus: status, Signal: run.Signal}
	}
	if len(run.Ended) > 0 && a.cmd.Leftovers == LeftoversRefuse {
		return &LeftoverError{Ended: run.Ended}
	}
	a.run = run
	return nil
}

// hashSubjects finds the subjects (what the build changed, or the
// Artifacts patterns), hashes them and derives the end nonce from them.
func (a *attestation) hashSubjects() error {
	var names []string
	var err error
	if a.snap != nil {
		names, err = a.snap.Changed(a.output)
		names = dropAttestations(names, err)
		if err == nil && len(names) == 0 {
			err = fmt.Errorf("%w: the build wrote only attestation files; name the artifacts with -a/--artifact PATTERN", ErrNoSubjects)
		}
	} else {
		names, err = MatchArtifacts(a.dir, a.opts.Artifacts, a.output)
	}
	if err != nil {
		return err
	}
	// a signal ends hashing within a read, not after it
	if a.subjects, err = hashSubjects(a.dir, names, a.stopped); err != nil {
		return err
	}
	a.endNonce, a.construction, err = predicates.SubjectsNonce(a.subjects)
	return err
}

// quoteEnd quotes with the end nonce, by the same attestation key.
func (a *attestation) quoteEnd() error {
	var err error
	_, _, a.endQuote, _, err = quoteOnce(a.opts.TPM, a.endNonce, a.ak.Fingerprint)
	if err != nil {
		return fmt.Errorf("end quote: %w", err)
	}
	return nil
}

// collectIMA fixes the build's window in the IMA log by the quoted PCR 10
// values (none for the simulator without --ima-log).
func (a *attestation) collectIMA() error {
	startPCR, endPCR, bank, err := imaPCRValues(a.startQuote, a.endQuote)
	if err != nil {
		return err
	}
	if a.opts.IMALog == "" && a.tpmInfo.Mode == predicates.ModeSim {
		a.ima = &predicates.IMA{Present: false, Reason: ReasonSimulatorIMA}
		return nil
	}
	if a.base != nil {
		if why := a.base.fits(a.ak.Fingerprint, a.startQuote); why != "" {
			if a.opts.Baseline != nil {
				return fmt.Errorf("%w: %s: %s", ErrBaselineMismatch, a.base.Path, why)
			}
			fmt.Fprintf(or[io.Writer](a.cmd.Stderr, os.Stderr), "attest-build: the IMA baseline %s no longer fits (%s): this attestation carries the whole log\n", a.base.Path, why)
			a.base, a.baseMade = nil, false
		}
	}
	var raw []byte
	if a.ima, raw, err = collectIMA(a.imaPath, bank, startPCR, endPCR, a.base); err != nil {
		return err
	}
	if a.opts.DetachLog && a.ima.Log != nil {
		a.ima.Log.Data, a.ima.Log.Detached = nil, true
		a.rawLog = raw
	}
	return nil
}

// collectBootLog reads the firmware event log and carries it when it
// replays to the end quote's PCRs 0-9 (none read for the simulator without
// --boot-log).
func (a *attestation) collectBootLog() error {
	if a.opts.BootLog == "" && a.tpmInfo.Mode == predicates.ModeSim {
		a.bootLog = &predicates.BootLog{Present: false, Reason: ReasonSimulatorBootLog}
		return nil
	}
	path := a.opts.BootLog
	if path == "" {
		path = DefaultBootLog
	}
	var err error
	a.bootLog, err = CollectBootLog(path, a.endQuote)
	return err
}

// tpmIMAStatement assembles and validates the TPM/IMA predicate and its
// statement.
func (a *attestation) tpmIMAStatement() error {
	a.pred = &predicates.TPMIMA{
		TPM:            a.tpmInfo,
		AttestationKey: a.ak,
		SigningKey:     a.signingKey,
		Nonce:          predicates.Nonce{Start: hex.EncodeToString(a.startNonce), Construction: a.construction},
		Quotes:         predicates.Quotes{Start: a.startQuote, End: a.endQuote},
		IMA:            *a.ima,
		Build: predicates.Build{
			Argv: a.cmd.Argv, WorkingDirectory: a.dir, ExitStatus: a.run.ExitStatus,
			StartedOn: a.run.StartedOn, FinishedOn: a.run.FinishedOn,
		},
		BootLog: a.bootLog,
	}
	if err := a.pred.Validate(); err != nil {
		return fmt.Errorf("assembling the TPM/IMA predicate: %w", err)
	}
	var err error
	a.tpmStmt, err = MarshalStatement(a.subjects, predicates.TPMIMAType, a.pred)
	return err
}

// slsaStatement assembles the SLSA provenance v1 statement for the same
// subjects.
func (a *attestation) slsaStatement() error {
	builderID, err := BuilderID(a.tpmInfo.Mode, a.opts.BuilderID)
	if err != nil {
		return err
	}
	info := ProvenanceInfo{
		BuilderID: builderID, Argv: a.cmd.Argv, Dir: a.dir,
		TPMMode: a.tpmInfo.Mode, PCRs: a.sel, Source: a.src, InvocationID: a.invocation,
		CI:                  CIContext(a.env()),
		Workflow:            GitHubWorkflow(a.env()),
		BuilderDependencies: builderDependencies(),
		StartedOn:           a.run.StartedOn, FinishedOn: a.run.FinishedOn,
		Byproducts: predicates.Byproducts(a.tpmStmt, a.pred),
	}
	if a.ima.Present {
		info.IMALog = a.imaPath
	}
	slsaPred, err := SLSAPredicate(info)
	if err != nil {
		return err
	}
	a.slsaStmt, err = MarshalStatement(a.subjects, predicates.SLSAProvenanceType, slsaPred)
	return err
}

// sign signs each statement into a DSSE envelope.
func (a *attestation) sign() error {
	for _, st := range [][]byte{a.tpmStmt, a.slsaStmt} {
		env, err := a.opts.Signer.SignStatement(a.ctx, st)
		if err != nil {
			return err
		}
		a.envelopes = append(a.envelopes, env)
	}
	return nil
}

// openOutput picks DefaultOutput when no output was given and opens the
// output's directory once (openOutput); a default or relative output must
// be inside the working directory as opened, an absolute one is where the
// caller chose.
func (a *attestation) openOutput() error {
	workDir := ""
	if a.opts.Output == "" || !filepath.IsAbs(a.opts.Output) {
		workDir = a.dir
	}
	if a.output == "" {
		a.output = DefaultOutput(a.dir, a.subjects)
	}
	var err error
	a.out, err = openOutput(a.output, workDir)
	return err
}

// write writes the side files (the detached log, the bundles), then both
// envelopes, one per line, atomically, all in the directory openOutput
// opened: the attestation file exists only when the side files are all
// there.
func (a *attestation) write() error {
	if a.rawLog != nil {
		a.detachedLog = DetachedLogPath(a.output)
		if err := a.out.writeBeside(a.detachedLog, a.rawLog, 0o644); err != nil {
			return err
		}
	}
	if a.opts.Bundle {
		types := []string{predicates.TPMIMAType, predicates.SLSAProvenanceType}
		for i, env := range a.envelopes {
			path, err := BundlePath(a.output, types[i])
			if err != nil {
				return err
			}
			b, err := MarshalBundle(env, a.opts.Signer.PublicKey())
			if err != nil {
				return err
			}
			if err := a.out.writeBeside(path, b, 0o644); err != nil {
				return err
			}
			a.bundles = append(a.bundles, path)
		}
	}
	data, err := jsonlBytes(a.output, a.envelopes)
	if err != nil {
		return err
	}
	return a.out.write(data, 0o644)
}

// DefaultOutput is the attestation path when none is given:
// "<subject>.intoto.jsonl" beside a single subject, else
// "attestation.intoto.jsonl" in dir.
func DefaultOutput(dir string, subjects []predicates.Subject) string {
	if len(subjects) == 1 {
		p := filepath.FromSlash(subjects[0].Name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p + ".intoto.jsonl"
	}
	return filepath.Join(dir, "attestation.intoto.jsonl")
}

// dropAttestations removes attestation files (.intoto.jsonl, Sigstore
// bundles, detached IMA logs) from discovered subjects: an attestation is
// never a subject of the next one.
func dropAttestations(names []string, err error) []string {
	if err != nil {
		return nil
	}
	out := names[:0]
	for _, n := range names {
		if !strings.HasSuffix(n, attestationSuffix) && !strings.HasSuffix(n, BundleSuffix) && !strings.HasSuffix(n, DetachedLogSuffix) {
			out = append(out, n)
		}
	}
	return out
}

// quoteOnce opens the TPM, takes one quote and closes it. A non-empty
// wantAK is the fingerprint the attestation key must have (the start
// quote's).
func quoteOnce(open TPMOpener, nonce []byte, wantAK string) (info predicates.TPM, ak predicates.AttestationKey, q predicates.Quote, sel string, err error) {
	s, err := open()
	if err != nil {
		return info, ak, q, "", err
	}
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if wantAK == "" {
		if info, err = s.Info(); err != nil {
			return info, ak, q, "", err
		}
	}
	if ak, err = s.AttestationKey(); err != nil {
		return info, ak, q, "", err
	}
	if wantAK != "" && ak.Fingerprint != wantAK {
		return info, ak, q, "", fmt.Errorf("the attestation key changed during the build: start quote by %s, now %s", wantAK, ak.Fingerprint)
	}
	q, err = s.Quote(nonce)
	return info, ak, q, s.PCRSelection(), err
}

// imaBanks is the order in which a bank of PCR 10 is chosen for matching
// the IMA log.
var imaBanks = []string{"sha256", "sha384", "sha512", "sha1"}

// imaPCRValues returns PCR 10's values in the start and end quotes, in the
// first bank of imaBanks that both quote.
func imaPCRValues(start, end predicates.Quote) (startV, endV []byte, bank string, err error) {
	find := func(q predicates.Quote, bank string) []byte {
		for _, p := range q.PCRs {
			if p.Bank == bank && p.Index == IMAPCR {
				v, err := hex.DecodeString(p.Value)
				if err == nil {
					return v
				}
			}
		}
		return nil
	}
	for _, b := range imaBanks {
		if s, e := find(start, b), find(end, b); s != nil && e != nil {
			return s, e, b, nil
		}
	}
	return nil, nil, "", fmt.Errorf("the quotes do not cover PCR %d, which the IMA window needs: add it to --pcrs (e.g. sha256:0-10)", IMAPCR)
}
