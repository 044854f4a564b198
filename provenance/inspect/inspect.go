package inspect

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/tpm"
)

// InspectNotice is the statement that Inspect and its renderings carry: the
// summary is read from the file as written, and nothing in it is checked.
const InspectNotice = "inspect verifies nothing: signatures, quotes, the IMA log and the subjects are shown as the file states them; run 'attest-build verify' before trusting any of it"

// Limits Inspect applies unless InspectOptions says otherwise.
const (
	DefaultInspectMaxBytes     = 512 << 20 // whole file
	DefaultInspectMaxEnvelopes = 64        // lines holding an envelope
	DefaultInspectMaxSubjects  = 10000     // subjects per statement
)

// maxQuoteAttestBytes bounds a quote's TPMS_ATTEST (a few hundred bytes).
const maxQuoteAttestBytes = 4096

// ErrInspectLimit reports an attestation file larger than Inspect's limits.
var ErrInspectLimit = errors.New("attestation exceeds the inspect limit")

// InspectError names where in the file Inspect failed: the 1-based line and,
// when known, the JSON field.
type InspectError struct {
	Line  int
	Field string
	Err   error
}

func (e *InspectError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.Field, e.Err)
}

func (e *InspectError) Unwrap() error { return e.Err }

// InspectOptions bounds what Inspect reads. Zero fields take the defaults.
type InspectOptions struct {
	MaxBytes     int64 // the whole file
	MaxEnvelopes int   // non-empty lines
	MaxSubjects  int   // subjects per statement
}

func (o InspectOptions) withDefaults() InspectOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultInspectMaxBytes
	}
	if o.MaxEnvelopes <= 0 {
		o.MaxEnvelopes = DefaultInspectMaxEnvelopes
	}
	if o.MaxSubjects <= 0 {
		o.MaxSubjects = DefaultInspectMaxSubjects
	}
	return o
}

// Summary describes an attestation file (.intoto.jsonl) as it is written.
// Nothing in it is verified: Verified is always false, and Notice says so.
type Summary struct {
	Notice    string            `json:"notice"`
	Verified  bool              `json:"verified"`
	Envelopes []EnvelopeSummary `json:"envelopes"`
}

// EnvelopeSummary describes one DSSE envelope (one line of the file) and the
// in-toto statement it carries.
type EnvelopeSummary struct {
	Line          int              `json:"line"`
	PayloadType   string           `json:"payloadType"`
	KeyIDs        []string         `json:"keyids"`
	StatementType string           `json:"statementType,omitempty"`
	PredicateType string           `json:"predicateType,omitempty"`
	Subjects      []SubjectSummary `json:"subjects,omitempty"`
	TPMIMA        *TPMIMASummary   `json:"tpmIma,omitempty"`
	SLSA          *SLSASummary     `json:"slsa,omitempty"`
	Other         string           `json:"other,omitempty"` // why the payload was not decoded further
	Signatures    int              `json:"signatures"`
}

// SubjectSummary is a statement subject: a name and its digests.
type SubjectSummary struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// TPMIMASummary is the TPM/IMA predicate without its bulk (the IMA log bytes),
// with both quotes' TPMS_ATTEST decoded.
type TPMIMASummary struct {
	Mode              string           `json:"mode"`
	Manufacturer      string           `json:"manufacturer,omitempty"`
	VendorString      string           `json:"vendorString,omitempty"`
	FirmwareVersion   string           `json:"firmwareVersion,omitempty"`
	EKCertificates    int              `json:"ekCertificates"`
	AKFingerprint     string           `json:"akFingerprint"`
	NonceStart        string           `json:"nonceStart"`
	NonceConstruction string           `json:"nonceConstruction"`
	StartQuote        QuoteSummary     `json:"startQuote"`
	EndQuote          QuoteSummary     `json:"endQuote"`
	IMA               IMASummary       `json:"ima"`
	Build             predicates.Build `json:"build"`
	// BootLog describes the carried firmware event log (not replayed); nil
	// for attestations made before boot logs were carried.
	BootLog *BootLogSummary `json:"bootLog,omitempty"`
}

// BootLogSummary describes the firmware event log as the predicate does
// (not decompressed, not replayed: verify replays it).
type BootLogSummary struct {
	Present         bool   `json:"present"`
	Reason          string `json:"reason,omitempty"`
	Events          int    `json:"events,omitempty"`
	SHA256          string `json:"sha256,omitempty"`
	CompressedBytes int    `json:"compressedBytes,omitempty"`
}

// QuoteSummary is a quote's TPMS_ATTEST decoded, unverified.
type QuoteSummary struct {
	Type            string           `json:"type"`
	ExtraData       string           `json:"extraData"` // hex qualifyingData
	Clock           uint64           `json:"clock"`     // milliseconds the TPM has been powered
	ResetCount      uint32           `json:"resetCount"`
	RestartCount    uint32           `json:"restartCount"`
	Safe            bool             `json:"safe"`
	FirmwareVersion string           `json:"firmwareVersion"` // tpm.FormatFirmwareVersion
	PCRDigest       string           `json:"pcrDigest,omitempty"`
	PCRs            []predicates.PCR `json:"pcrs"`
	SignatureBytes  int              `json:"signatureBytes"`
}

// IMASummary describes the IMA evidence: the log as the predicate describes
// it (not decompressed, not replayed) and the window's decoded entries.
type IMASummary struct {
	Present           bool                     `json:"present"`
	Reason            string                   `json:"reason,omitempty"`
	PCR               int                      `json:"pcr,omitempty"`
	Bank              string                   `json:"bank,omitempty"`
	Template          string                   `json:"template,omitempty"`
	LogEntries        int                      `json:"logEntries,omitempty"`
	LogSHA256         string                   `json:"logSha256,omitempty"`
	LogEncoding       string                   `json:"logEncoding,omitempty"`        // ima.log.encoding: binary_runtime_measurements+zstd (+gzip in older attestations)
	LogCompressedSize int                      `json:"logCompressedBytes,omitempty"` // its size as carried
	WindowStart       int                      `json:"windowStart"`
	WindowEnd         int                      `json:"windowEnd"`
	Window            []predicates.WindowEntry `json:"window,omitempty"`
	// Baseline is the IMA baseline the log continues (ima.baseline), else
	// nil: the log then starts at its position and Window is decoded from
	// the log, which carries no decoded window.
	Baseline *predicates.IMABaseline `json:"baseline,omitempty"`
}

// SLSASummary is the part of a SLSA provenance v1 predicate a reader wants.
type SLSASummary struct {
	BuildType            string            `json:"buildType"`
	ExternalParameters   json.RawMessage   `json:"externalParameters,omitempty"`
	ResolvedDependencies []ResourceSummary `json:"resolvedDependencies,omitempty"`
	BuilderID            string            `json:"builderId"`
	InvocationID         string            `json:"invocationId,omitempty"`
	StartedOn            *time.Time        `json:"startedOn,omitempty"`
	FinishedOn           *time.Time        `json:"finishedOn,omitempty"`
	Byproducts           []ResourceSummary `json:"byproducts,omitempty"`
}

// ResourceSummary is a SLSA ResourceDescriptor.
type ResourceSummary struct {
	Name   string            `json:"name,omitempty"`
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

type slsaRaw struct {
	BuildDefinition struct {
		BuildType            string            `json:"buildType"`
		ExternalParameters   json.RawMessage   `json:"externalParameters"`
		ResolvedDependencies []ResourceSummary `json:"resolvedDependencies"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		Metadata struct {
			InvocationID string     `json:"invocationId"`
			StartedOn    *time.Time `json:"startedOn"`
			FinishedOn   *time.Time `json:"finishedOn"`
		} `json:"metadata"`
		Byproducts []ResourceSummary `json:"byproducts"`
	} `json:"runDetails"`
}

// Inspect reads an attestation file, one DSSE envelope per line, and
// summarizes each envelope's statement. It VERIFIES NOTHING: it checks no
// signature, no quote, no log replay and no subject digest. It decodes what
// a reader needs (subjects, builder, TPM mode, AK fingerprint, the quotes'
// clock and reset counts, the IMA window's entries) and refuses input beyond
// opts' limits before decoding it, so its memory stays in proportion to the
// limits. Errors name the line and field (*InspectError).
func Inspect(r io.Reader, opts InspectOptions) (*Summary, error) {
	opts = opts.withDefaults()
	lr := &io.LimitedReader{R: r, N: opts.MaxBytes + 1}
	br := bufio.NewReaderSize(lr, 64<<10)
	s := &Summary{Notice: InspectNotice, Envelopes: []EnvelopeSummary{}}
	for line := 1; ; line++ {
		raw, err := readLine(br)
		if lr.N <= 0 {
			return nil, &InspectError{Line: line, Err: fmt.Errorf("%w: the file is larger than %d bytes", ErrInspectLimit, opts.MaxBytes)}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, &InspectError{Line: line, Err: fmt.Errorf("reading: %w", err)}
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			if len(s.Envelopes) == opts.MaxEnvelopes {
				return nil, &InspectError{Line: line, Err: fmt.Errorf("%w: more than %d envelopes", ErrInspectLimit, opts.MaxEnvelopes)}
			}
			e, ierr := inspectEnvelope(line, raw, opts)
			if ierr != nil {
				return nil, ierr
			}
			s.Envelopes = append(s.Envelopes, *e)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(s.Envelopes) == 0 {
		return nil, &InspectError{Line: 1, Err: errors.New("no envelope: the file is empty")}
	}
	return s, nil
}

// readLine returns the next line without its newline; io.EOF at the end.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil {
			return line[:len(line)-1], nil
		}
		return line, err
	}
}

func inspectEnvelope(line int, raw []byte, opts InspectOptions) (*EnvelopeSummary, error) {
	fail := func(field string, err error) error { return &InspectError{Line: line, Field: field, Err: err} }
	var env dsse.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fail("", fmt.Errorf("not a DSSE envelope (JSON): %w", err))
	}
	e := &EnvelopeSummary{Line: line, PayloadType: env.PayloadType, KeyIDs: []string{}, Signatures: len(env.Signatures)}
	for _, sig := range env.Signatures {
		e.KeyIDs = append(e.KeyIDs, sig.KeyID)
	}
	if env.PayloadType != predicates.PayloadType {
		e.Other = fmt.Sprintf("payloadType %q is not %s; payload not decoded", env.PayloadType, predicates.PayloadType)
		return e, nil
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fail("payload", fmt.Errorf("not standard base64: %w", err))
	}
	var st statementJSON
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fail("payload", fmt.Errorf("not an in-toto statement (JSON): %w", err))
	}
	e.StatementType, e.PredicateType = st.Type, st.PredicateType
	if len(st.Subject) > opts.MaxSubjects {
		return nil, fail("payload.subject", fmt.Errorf("%w: %d subjects, limit %d", ErrInspectLimit, len(st.Subject), opts.MaxSubjects))
	}
	for _, sub := range st.Subject {
		e.Subjects = append(e.Subjects, SubjectSummary(sub))
	}
	switch st.PredicateType {
	case predicates.TPMIMAType:
		var p predicates.TPMIMA
		if err := json.Unmarshal(st.Predicate, &p); err != nil {
			return nil, fail("payload.predicate", fmt.Errorf("not a TPM/IMA predicate: %w", err))
		}
		t, ferr := summarizeTPMIMA(&p)
		if ferr != nil {
			return nil, fail("payload.predicate."+ferr.Field, ferr.Err)
		}
		e.TPMIMA = t
	case predicates.SLSAProvenanceType:
		var p slsaRaw
		if err := json.Unmarshal(st.Predicate, &p); err != nil {
			return nil, fail("payload.predicate", fmt.Errorf("not SLSA provenance v1: %w", err))
		}
		e.SLSA = &SLSASummary{
			BuildType:            p.BuildDefinition.BuildType,
			ExternalParameters:   p.BuildDefinition.ExternalParameters,
			ResolvedDependencies: p.BuildDefinition.ResolvedDependencies,
			BuilderID:            p.RunDetails.Builder.ID,
			InvocationID:         p.RunDetails.Metadata.InvocationID,
			StartedOn:            p.RunDetails.Metadata.StartedOn,
			FinishedOn:           p.RunDetails.Metadata.FinishedOn,
			Byproducts:           p.RunDetails.Byproducts,
		}
	default:
		e.Other = fmt.Sprintf("predicateType %q is not one inspect knows; predicate not decoded", st.PredicateType)
	}
	return e, nil
}

func summarizeTPMIMA(p *predicates.TPMIMA) (*TPMIMASummary, *predicates.FieldError) {
	t := &TPMIMASummary{
		Mode:              p.TPM.Mode,
		Manufacturer:      p.TPM.Manufacturer,
		VendorString:      p.TPM.VendorString,
		FirmwareVersion:   p.TPM.FirmwareVersion,
		EKCertificates:    len(p.TPM.EKCertificates),
		AKFingerprint:     p.AttestationKey.Fingerprint,
		NonceStart:        p.Nonce.Start,
		NonceConstruction: p.Nonce.Construction,
		Build:             p.Build,
		IMA: IMASummary{
			Present: p.IMA.Present, Reason: p.IMA.Reason, PCR: p.IMA.PCR,
			Bank: p.IMA.Bank, Template: p.IMA.Template,
		},
	}
	for _, q := range []struct {
		field string
		in    *predicates.Quote
		out   *QuoteSummary
	}{{"quotes.start", &p.Quotes.Start, &t.StartQuote}, {"quotes.end", &p.Quotes.End, &t.EndQuote}} {
		s, err := summarizeQuote(q.in)
		if err != nil {
			return nil, &predicates.FieldError{Field: q.field + ".attest", Err: err}
		}
		*q.out = *s
	}
	if b := p.BootLog; b != nil {
		t.BootLog = &BootLogSummary{Present: b.Present, Reason: b.Reason, Events: b.Events, SHA256: b.SHA256, CompressedBytes: len(b.Data)}
	}
	if l := p.IMA.Log; l != nil {
		t.IMA.LogEntries, t.IMA.LogSHA256, t.IMA.LogEncoding, t.IMA.LogCompressedSize = l.Entries, l.SHA256, l.Encoding, len(l.Data)
	}
	if w := p.IMA.Window; w != nil {
		t.IMA.WindowStart, t.IMA.WindowEnd, t.IMA.Window = w.Start, w.End, w.Entries
	}
	if b := p.IMA.Baseline; b != nil && p.IMA.Log != nil && p.IMA.Window != nil {
		t.IMA.Baseline = b
		t.IMA.Window = windowFromLog(p.IMA.Log, p.IMA.Window)
	}
	return t, nil
}

// windowFromLog decodes the window's entries from a carried log that
// continues a baseline (nil when it cannot: detached, or not decodable;
// inspect checks nothing, verify does).
func windowFromLog(l *predicates.IMALog, w *predicates.Window) []predicates.WindowEntry {
	if l.Detached || len(l.Data) == 0 {
		return nil
	}
	r, err := evidence.NewReader(bytes.NewReader(l.Data), evidence.WithFirstIndex(l.First), evidence.WithMaxEntries(l.Entries))
	if err != nil {
		return nil
	}
	var out []predicates.WindowEntry
	for {
		e, err := r.Next()
		if err != nil || e.Index >= w.End {
			return out
		}
		if e.Index >= w.Start {
			out = append(out, predicates.WindowEntryOf(e))
		}
	}
}

// summarizeQuote decodes a quote's TPMS_ATTEST (without checking its
// signature: the values are what the bytes say).
func summarizeQuote(q *predicates.Quote) (*QuoteSummary, error) {
	if len(q.Attest) == 0 {
		return nil, errors.New("missing")
	}
	if len(q.Attest) > maxQuoteAttestBytes {
		return nil, fmt.Errorf("%w: %d bytes, a TPMS_ATTEST is at most %d", ErrInspectLimit, len(q.Attest), maxQuoteAttestBytes)
	}
	a, err := tpm2.Unmarshal[tpm2.TPMSAttest](q.Attest)
	if err != nil {
		return nil, fmt.Errorf("decoding TPMS_ATTEST: %w", err)
	}
	s := &QuoteSummary{
		Type:            attestTypeName(a.Type),
		ExtraData:       hex.EncodeToString(a.ExtraData.Buffer),
		Clock:           a.ClockInfo.Clock,
		ResetCount:      a.ClockInfo.ResetCount,
		RestartCount:    a.ClockInfo.RestartCount,
		Safe:            a.ClockInfo.Safe,
		FirmwareVersion: tpm.FormatFirmwareVersion(a.FirmwareVersion),
		PCRs:            q.PCRs,
		SignatureBytes:  len(q.Signature),
	}
	if a.Type == tpm2.TPMSTAttestQuote {
		if qi, err := a.Attested.Quote(); err == nil {
			s.PCRDigest = hex.EncodeToString(qi.PCRDigest.Buffer)
		}
	}
	return s, nil
}

func attestTypeName(t tpm2.TPMISTAttest) string {
	switch t {
	case tpm2.TPMSTAttestQuote:
		return "quote"
	case tpm2.TPMSTAttestCertify:
		return "certify"
	default:
		return fmt.Sprintf("%#04x (not a quote)", uint16(t))
	}
}

// statementJSON is an in-toto Statement v1 as inspect reads it.
type statementJSON struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}
