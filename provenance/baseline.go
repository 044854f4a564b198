package provenance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
)

// ErrBaselineMismatch reports a baseline that the current log or TPM does
// not continue: another boot, another attestation key, a log that does not
// replay from the baseline's PCR value.
var ErrBaselineMismatch = errors.New("the IMA baseline does not fit this boot")

// BaselineSuffix ends a baseline's file name in a baseline directory.
const BaselineSuffix = predicates.BaselineFileSuffix

// BaselineOptions configure MakeBaseline.
type BaselineOptions struct {
	// Signer signs the baseline statement. Required.
	Signer *Signer
	// TPM opens the TPM for the quote. Required.
	TPM TPMOpener
	// IMALog is the IMA log to read; "" means DefaultIMALog.
	IMALog string
	// Output is the baseline file written. Required.
	Output string
	// Previous, when set, is the baseline the new one continues: it
	// carries only the entries after Previous's position (a chain, so that
	// each build's attestation and each verification stays proportional to
	// the new entries). A previous baseline of another boot or attestation
	// key is an error (ErrBaselineMismatch).
	Previous *BaselineRef
}

// BaselineRef is what a build needs of a baseline to carry only the log
// after it: read from the baseline statement (LoadBaseline), not verified
// (the verifier verifies the baseline itself).
type BaselineRef struct {
	Path string
	// Digest is "sha256:" and the hex SHA-256 of the baseline statement.
	Digest string
	// Entries is the baseline's position and LogBytes its byte offset in
	// the kernel's log; PCRValue is PCR 10 of Bank there.
	Entries  int
	LogBytes int64
	PCRValue []byte
	Bank     string
	// AKFingerprint is the attestation key that quoted.
	AKFingerprint string
	// ResetCount, RestartCount and Clock are the quote's clock
	// information: the boot it was made in.
	ResetCount, RestartCount uint32
	Clock                    uint64
}

// MakeBaseline quotes PCR 10 with a random nonce, reads the IMA log and
// writes, atomically to Output, a signed baseline statement (predicate
// predicates.BaselineType) carrying the quote and the log up to it (the
// longest prefix that replays to the quoted PCR 10, by the rule of
// CollectIMA), or with Previous the entries after Previous's position. Its
// subject is the carried log, by its SHA-256.
func MakeBaseline(ctx context.Context, opts BaselineOptions) (*BaselineRef, error) {
	if opts.Signer == nil || opts.TPM == nil || opts.Output == "" {
		return nil, errors.New("making an IMA baseline: a signer, a TPM and an output are required")
	}
	path := opts.IMALog
	if path == "" {
		path = DefaultIMALog
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("making the baseline nonce: %w", err)
	}
	info, ak, q, _, err := quoteOnce(opts.TPM, nonce, "")
	if err != nil {
		return nil, fmt.Errorf("baseline quote: %w", err)
	}
	var pcr []byte
	var bank string
	for _, b := range imaBanks {
		for _, p := range q.PCRs {
			if p.Bank == b && p.Index == IMAPCR && pcr == nil {
				pcr, _ = hex.DecodeString(p.Value)
				bank = b
			}
		}
	}
	if pcr == nil {
		return nil, fmt.Errorf("making an IMA baseline: the quote does not cover PCR %d: add it to --pcrs (e.g. sha256:0-10)", IMAPCR)
	}
	var offset int64
	if prev := opts.Previous; prev != nil {
		if why := prev.fits(ak.Fingerprint, q); why != "" {
			return nil, fmt.Errorf("%w: the previous baseline %s: %s", ErrBaselineMismatch, prev.Path, why)
		}
		offset = prev.LogBytes
	}
	ima, raw, err := collectIMA(path, bank, pcr, pcr, opts.Previous)
	if err != nil {
		return nil, fmt.Errorf("making an IMA baseline: %w", err)
	}
	if !ima.Present {
		return nil, fmt.Errorf("making an IMA baseline: %s", ima.Reason)
	}
	log := *ima.Log
	log.Entries = ima.Window.End - log.First // up to the quote
	pred := &predicates.Baseline{
		TPM: info, AttestationKey: ak, Nonce: hex.EncodeToString(nonce), Quote: q,
		IMA:       predicates.BaselineIMA{PCR: IMAPCR, Bank: bank, Template: ima.Template, LogBytes: offset + int64(len(raw)), Log: log, Previous: ima.Baseline},
		CreatedOn: time.Now().UTC().Truncate(time.Second),
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("assembling the baseline predicate: %w", err)
	}
	sub := predicates.Subject{Name: predicates.BaselineSubject, SHA256: sha256.Sum256(raw)}
	stmt, err := MarshalStatement([]predicates.Subject{sub}, predicates.BaselineType, pred)
	if err != nil {
		return nil, err
	}
	env, err := opts.Signer.SignStatement(ctx, stmt)
	if err != nil {
		return nil, err
	}
	data, err := jsonlBytes(opts.Output, [][]byte{env})
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(opts.Output, data, 0o644); err != nil {
		return nil, err
	}
	return baselineRef(opts.Output, stmt, pred)
}

// LoadBaseline reads the baseline statement in path (the first line: a DSSE
// envelope) for a build to continue. Nothing is verified but the form: the
// build's attestation names the baseline by digest, and the verifier
// verifies it.
func LoadBaseline(path string) (*BaselineRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the IMA baseline: %w", err)
	}
	defer f.Close()
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.NewDecoder(io.LimitReader(f, 1<<30)).Decode(&env); err != nil {
		return nil, fmt.Errorf("reading the IMA baseline %s: %w", path, err)
	}
	stmt, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil || env.PayloadType != predicates.PayloadType {
		return nil, fmt.Errorf("reading the IMA baseline %s: not a DSSE envelope of an in-toto statement", path)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		// The predicate without its log's data: a baseline is read at every
		// build, and the data is not needed.
		Predicate struct {
			predicates.Baseline
			IMA struct {
				predicates.BaselineIMA
				Log struct {
					First   int    `json:"first"`
					Entries int    `json:"entries"`
					SHA256  string `json:"sha256"`
				} `json:"log"`
			} `json:"ima"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(stmt, &st); err != nil {
		return nil, fmt.Errorf("reading the IMA baseline %s: %w", path, err)
	}
	if st.PredicateType != predicates.BaselineType {
		return nil, fmt.Errorf("reading the IMA baseline %s: predicateType %q, want %q", path, st.PredicateType, predicates.BaselineType)
	}
	p := st.Predicate.Baseline
	p.IMA = st.Predicate.IMA.BaselineIMA
	p.IMA.Log = predicates.IMALog{First: st.Predicate.IMA.Log.First, Entries: st.Predicate.IMA.Log.Entries, SHA256: st.Predicate.IMA.Log.SHA256}
	return baselineRef(path, stmt, &p)
}

// baselineRef describes a baseline statement for a build.
func baselineRef(path string, stmt []byte, p *predicates.Baseline) (*BaselineRef, error) {
	sum := sha256.Sum256(stmt)
	ref := &BaselineRef{Path: path, Digest: "sha256:" + hex.EncodeToString(sum[:]), Entries: p.Position(),
		LogBytes: p.IMA.LogBytes, Bank: p.IMA.Bank, AKFingerprint: p.AttestationKey.Fingerprint}
	for _, v := range p.Quote.PCRs {
		if v.Bank == p.IMA.Bank && v.Index == IMAPCR {
			ref.PCRValue, _ = hex.DecodeString(v.Value)
		}
	}
	if b, err := evidence.ParseBank(p.IMA.Bank); err != nil || len(ref.PCRValue) != b.Size() || ref.Entries < 1 || ref.LogBytes <= 0 {
		return nil, fmt.Errorf("reading the IMA baseline %s: no PCR %d value of bank %q, or no log", path, IMAPCR, p.IMA.Bank)
	}
	ci, err := quoteClock(p.Quote.Attest)
	if err != nil {
		return nil, fmt.Errorf("reading the IMA baseline %s: quote: %w", path, err)
	}
	ref.ResetCount, ref.RestartCount, ref.Clock = ci.ResetCount, ci.RestartCount, ci.Clock
	return ref, nil
}

// quoteClock decodes a quote's clock information (unverified: for the
// producer's own choice of a baseline).
func quoteClock(attest []byte) (tpm2.TPMSClockInfo, error) {
	a, err := tpm2.Unmarshal[tpm2.TPMSAttest](attest)
	if err != nil {
		return tpm2.TPMSClockInfo{}, err
	}
	return a.ClockInfo, nil
}

// fits reports why the baseline cannot be continued by a build whose start
// quote q was made by the attestation key akFingerprint ("" if it can).
func (b *BaselineRef) fits(akFingerprint string, q predicates.Quote) string {
	if b.AKFingerprint != akFingerprint {
		return fmt.Sprintf("made by attestation key %s, the TPM's is %s", b.AKFingerprint, akFingerprint)
	}
	ci, err := quoteClock(q.Attest)
	if err != nil {
		return "the start quote does not decode: " + err.Error()
	}
	if ci.ResetCount != b.ResetCount || ci.RestartCount != b.RestartCount {
		return fmt.Sprintf("made in another boot (resetCount %d, restartCount %d; now %d, %d)", b.ResetCount, b.RestartCount, ci.ResetCount, ci.RestartCount)
	}
	if ci.Clock < b.Clock {
		return fmt.Sprintf("its quote's clock %d is after the start quote's %d", b.Clock, ci.Clock)
	}
	return ""
}

// BootID is the kernel's random id of the running boot
// (/proc/sys/kernel/random/boot_id), which names a baseline directory's
// baseline.
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("reading the boot id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" || strings.ContainsAny(id, "/\\ \x00") {
		return "", fmt.Errorf("reading the boot id: unexpected %q", id)
	}
	return id, nil
}

// BaselinePrefix is the start of the names of a boot's baselines by an
// attestation key in a baseline directory: dir/<boot id>-<first 16 hex
// digits of the AK fingerprint>-. Each is followed by its position (12
// digits) and a random suffix, then BaselineSuffix.
func BaselinePrefix(dir, bootID, akFingerprint string) string {
	fp := strings.TrimPrefix(akFingerprint, "sha256:")
	if len(fp) > 16 {
		fp = fp[:16]
	}
	return filepath.Join(dir, bootID+"-"+fp+"-")
}

// latestBaseline returns the file of the latest baseline (the greatest
// position) whose name begins with prefix, or "".
func latestBaseline(prefix string) (string, error) {
	des, err := os.ReadDir(filepath.Dir(prefix))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the baseline directory: %w", err)
	}
	latest := ""
	base := filepath.Base(prefix)
	for _, de := range des {
		n := de.Name()
		if de.Type().IsRegular() && strings.HasPrefix(n, base) && strings.HasSuffix(n, BaselineSuffix) && n > latest {
			latest = n // the position is zero-padded: the greatest name is the latest
		}
	}
	if latest == "" {
		return "", nil
	}
	return filepath.Join(filepath.Dir(prefix), latest), nil
}

// dirBaseline makes the baseline a build continues in opts.BaselineDir
// (created 0700): the first build after boot makes one of the whole log;
// each later one makes one that continues the latest (a chain: every
// attestation and every baseline carries only the entries since the one
// before). A latest baseline that no longer fits (a TPM restart since:
// resume from hibernation) is left, and a new chain begins. None for the
// simulator without an IMA log.
func dirBaseline(ctx context.Context, opts Options) (*BaselineRef, bool, error) {
	id, err := BootID()
	if err != nil {
		return nil, false, err
	}
	s, err := opts.TPM()
	if err != nil {
		return nil, false, err
	}
	info, err := s.Info()
	var ak predicates.AttestationKey
	if err == nil {
		ak, err = s.AttestationKey()
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, err
	}
	if info.Mode == predicates.ModeSim && opts.IMALog == "" {
		return nil, false, nil // no IMA log is carried (ReasonSimulatorIMA)
	}
	if err := os.MkdirAll(opts.BaselineDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("making the baseline directory: %w", err)
	}
	prefix := BaselinePrefix(opts.BaselineDir, id, ak.Fingerprint)
	latest, err := latestBaseline(prefix)
	if err != nil {
		return nil, false, err
	}
	var prev *BaselineRef
	if latest != "" {
		if prev, err = LoadBaseline(latest); err != nil {
			return nil, false, err
		}
	}
	r := make([]byte, 4)
	rand.Read(r)
	// The output is named for its position once it is known: written
	// under a temporary name (not a baseline's), then renamed.
	tmp := prefix + "pending-" + hex.EncodeToString(r) + ".tmp"
	ref, err := MakeBaseline(ctx, BaselineOptions{Signer: opts.Signer, TPM: opts.TPM, IMALog: opts.IMALog, Output: tmp, Previous: prev})
	if errors.Is(err, ErrBaselineMismatch) && prev != nil {
		ref, err = MakeBaseline(ctx, BaselineOptions{Signer: opts.Signer, TPM: opts.TPM, IMALog: opts.IMALog, Output: tmp})
	}
	if err != nil {
		return nil, false, err
	}
	final := fmt.Sprintf("%s%012d-%x%s", prefix, ref.Entries, r, BaselineSuffix)
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return nil, false, fmt.Errorf("naming the baseline: %w", err)
	}
	ref.Path = final
	return ref, true, nil
}
