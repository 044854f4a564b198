// Package predicates holds the attestation predicate types that attest-build
// emits: the TPM/IMA predicate (this file), the nonce construction that
// binds the end quote to the subjects, and what the attesting and the
// verifying sides must agree on (window.go): the statement's payload and
// SLSA predicate types, and how a log entry shows in the window.
//
// The Go type and the JSON Schema in schemas/ describe the same document; a
// test keeps them in step. Validate checks what JSON Schema cannot (decoded
// lengths, orderings); schemas.ValidateTPMIMA checks the shape.
package predicates

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TPMIMAType is the predicateType of the TPM/IMA predicate, and the $id of its
// JSON Schema (schemas/tpm-ima.v0.1.schema.json).
const TPMIMAType = "https://github.com/attest-build/attest-build/predicates/tpm-ima/v0.1"

// TPM modes. A simulated or software TPM proves nothing about hardware; the
// mode is recorded so that a policy can refuse it.
const (
	ModeDevice = "device"
	ModeSwtpm  = "swtpm"
	ModeSim    = "sim"
)

// Nonce constructions (see SubjectsNonce).
const (
	// NonceSingleSubject: the end quote's qualifyingData is the raw 32-byte
	// SHA-256 digest of the only subject.
	NonceSingleSubject = "subject-sha256"
	// NonceSubjectList: the end quote's qualifyingData is the SHA-256 of the
	// subject list encoded as sha256sum(1) output sorted by name.
	NonceSubjectList = "subject-list-sha256"
)

// Encodings of IMALog.Data: the kernel's binary_runtime_measurements bytes,
// compressed (JSON then base64-encodes the bytes).
const (
	// IMALogEncoding is the encoding attest-build writes: a zstd stream
	// (RFC 8878) with a window of at most 8 MiB. attest-build writes one
	// frame with its content checksum and a 1 MiB window; a verifier takes
	// any stream within the window (concatenated and skippable frames
	// included, as the RFC allows): the decompressed bytes are what it
	// checks, by SHA-256 and replay. Decompressing it is about 4 times as
	// fast as inflating gzip, which every verification does.
	IMALogEncoding = "binary_runtime_measurements+zstd"
	// IMALogEncodingGzip is gzip (RFC 1952), the encoding of attestations
	// made before zstd; still accepted.
	IMALogEncodingGzip = "binary_runtime_measurements+gzip"
)

// IMALogEncodings lists the accepted encodings of IMALog.Data, the one
// written first.
func IMALogEncodings() []string { return []string{IMALogEncoding, IMALogEncodingGzip} }

// TPMIMA is the TPM/IMA predicate: the machine state evidence around one build.
type TPMIMA struct {
	TPM            TPM            `json:"tpm"`
	AttestationKey AttestationKey `json:"attestationKey"`
	// SigningKey is the TPM-resident key that signed the envelopes, when
	// it is one (attest-build -k tpm).
	SigningKey *SigningKey `json:"signingKey,omitempty"`
	Nonce      Nonce       `json:"nonce"`
	Quotes     Quotes      `json:"quotes"`
	IMA        IMA         `json:"ima"`
	Build      Build       `json:"build"`
	// BootLog is the firmware event log; nil in attestations made before it.
	BootLog *BootLog `json:"bootLog,omitempty"`
}

// TPM identifies the TPM that quoted.
type TPM struct {
	Mode            string `json:"mode"`
	Manufacturer    string `json:"manufacturer,omitempty"`
	VendorString    string `json:"vendorString,omitempty"`
	FirmwareVersion string `json:"firmwareVersion,omitempty"`
	// EKCertificates are the endorsement key certificates read from NV, PEM.
	EKCertificates []string `json:"ekCertificates,omitempty"`
}

// AttestationKey is the key that signed both quotes.
type AttestationKey struct {
	PublicKeyPEM string `json:"publicKeyPem"`
	// TPMTPublic is the key's TPMT_PUBLIC area as the TPM returned it.
	TPMTPublic []byte `json:"tpmtPublic"`
	// Fingerprint is "sha256:" and the hex SHA-256 of the PKIX DER public key.
	Fingerprint string `json:"fingerprint"`
	// Certificates are the AK's X.509 certificate, PEM, then intermediate
	// CA certificates (an attestation CA's, or a cloud's), when the AK has
	// one.
	Certificates []string `json:"certificates,omitempty"`
}

// SigningKey is a TPM-resident DSSE signing key and its certification by
// the attestation key.
type SigningKey struct {
	// TPMTPublic is the key's TPMT_PUBLIC area as the TPM returned it.
	TPMTPublic   []byte `json:"tpmtPublic"`
	PublicKeyPEM string `json:"publicKeyPem"`
	// CertifyInfo is the TPMS_ATTEST of TPM2_Certify (qualifyingData: the
	// start nonce) exactly as signed; CertifySignature the AK's
	// TPMT_SIGNATURE over it.
	CertifyInfo      []byte `json:"certifyInfo"`
	CertifySignature []byte `json:"certifySignature"`
}

// Nonce records the qualifyingData of both quotes.
type Nonce struct {
	// Start is the random qualifyingData of the start quote, hex.
	Start string `json:"start"`
	// Construction names how the end quote's qualifyingData derives from the
	// subjects: NonceSingleSubject or NonceSubjectList.
	Construction string `json:"construction"`
}

// Quotes holds the quotes taken before and after the build.
type Quotes struct {
	Start Quote `json:"start"`
	End   Quote `json:"end"`
}

// Quote is one TPM2_Quote: raw signed bytes beside the PCR values it covers.
type Quote struct {
	// Attest is the TPMS_ATTEST structure exactly as the TPM signed it.
	Attest []byte `json:"attest"`
	// Signature is the TPMT_SIGNATURE over Attest.
	Signature []byte `json:"signature"`
	// PCRs are the values the quote's pcrDigest covers, in selection order.
	PCRs []PCR `json:"pcrs"`
}

// PCR is one PCR value.
type PCR struct {
	Bank  string `json:"bank"`
	Index int    `json:"index"`
	Value string `json:"value"` // lowercase hex
}

// IMA is the kernel's measurement log evidence.
type IMA struct {
	// Present is false when the kernel exposed no IMA log; Reason says why.
	Present bool   `json:"present"`
	Reason  string `json:"reason,omitempty"`
	// PCR is the IMA PCR (10) and Bank the PCR bank whose quoted values the
	// log prefixes were matched against.
	PCR  int    `json:"pcr,omitempty"`
	Bank string `json:"bank,omitempty"`
	// Template is the template of the log's entries, or "mixed".
	Template string  `json:"template,omitempty"`
	Log      *IMALog `json:"log,omitempty"`
	Window   *Window `json:"window,omitempty"`
	// Baseline, when set, names the baseline statement whose log this
	// one continues: Log then holds only the entries from
	// Baseline.Entries on (Log.First), and the verifier needs the
	// baseline (verify --baseline).
	Baseline *IMABaseline `json:"baseline,omitempty"`
}

// IMALog is the log up to the end quote: from boot, or from a baseline's
// position (IMA.Baseline).
type IMALog struct {
	Encoding string `json:"encoding"`
	// First is the index in the kernel's log of Data's first entry: 0,
	// or the baseline's position (IMA.Baseline.Entries).
	First int `json:"first,omitempty"`
	// Entries is the number of entries in Data; SHA256 is the hex SHA-256
	// of the uncompressed log bytes.
	Entries int    `json:"entries"`
	SHA256  string `json:"sha256"`
	// Data is the log in Encoding. It is absent when Detached: the log
	// was written as a file of its own (attest-build --detach-log), the
	// uncompressed bytes whose SHA-256 is SHA256, for the verifier to be
	// given beside the attestation.
	Data     []byte `json:"data,omitempty"`
	Detached bool   `json:"detached,omitempty"`
}

// Window is the half-open range [Start, End) of log entries appended during
// the build: Start entries replay to the start quote's PCR value, End to the
// end quote's. Entries are decoded for readers; a verifier replays Log. An
// attestation that continues a baseline (IMA.Baseline) carries no Entries,
// to stay small: they are the last End-Start entries of Log.
type Window struct {
	Start   int           `json:"start"`
	End     int           `json:"end"`
	Entries []WindowEntry `json:"entries,omitempty"`
}

// WindowEntry is one decoded log entry, for readers (not for verification).
type WindowEntry struct {
	Index     int    `json:"index"`
	Template  string `json:"template"`
	DigestAlg string `json:"digestAlg,omitempty"`
	Digest    string `json:"digest,omitempty"` // lowercase hex
	Path      string `json:"path,omitempty"`
	Violation bool   `json:"violation,omitempty"`
}

// Build describes the wrapped command.
type Build struct {
	Argv             []string  `json:"argv"`
	WorkingDirectory string    `json:"workingDirectory"`
	ExitStatus       int       `json:"exitStatus"`
	StartedOn        time.Time `json:"startedOn"`
	FinishedOn       time.Time `json:"finishedOn"`
}

// FieldError names the field of a predicate that failed validation.
type FieldError struct {
	Field string // JSON path, e.g. "quotes.end.pcrs[2].value"
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Validation failures.
var (
	ErrRequired = errors.New("required")
	ErrInvalid  = errors.New("invalid")
)

func fieldErr(field string, err error, format string, a ...any) error {
	if format == "" {
		return &FieldError{Field: field, Err: err}
	}
	return &FieldError{Field: field, Err: fmt.Errorf("%w: "+format, append([]any{err}, a...)...)}
}

// Validate checks the predicate's fields for presence and form. It does not
// verify anything: quotes, signatures and the log are checked by the verifier.
func (p *TPMIMA) Validate() error {
	if err := validateTPMAndAK(&p.TPM, &p.AttestationKey); err != nil {
		return err
	}
	if k := p.SigningKey; k != nil {
		switch {
		case len(k.TPMTPublic) == 0:
			return fieldErr("signingKey.tpmtPublic", ErrRequired, "")
		case k.PublicKeyPEM == "":
			return fieldErr("signingKey.publicKeyPem", ErrRequired, "")
		case len(k.CertifyInfo) == 0:
			return fieldErr("signingKey.certifyInfo", ErrRequired, "")
		case len(k.CertifySignature) == 0:
			return fieldErr("signingKey.certifySignature", ErrRequired, "")
		}
	}
	if n, err := hex.DecodeString(p.Nonce.Start); err != nil || len(n) == 0 || len(n) > 32 {
		return fieldErr("nonce.start", ErrInvalid, "want 1 to 32 bytes of hex, found %q", p.Nonce.Start)
	}
	switch p.Nonce.Construction {
	case NonceSingleSubject, NonceSubjectList:
	default:
		return fieldErr("nonce.construction", ErrInvalid, "%q is not one of %s, %s", p.Nonce.Construction, NonceSingleSubject, NonceSubjectList)
	}
	for name, q := range map[string]*Quote{"quotes.start": &p.Quotes.Start, "quotes.end": &p.Quotes.End} {
		if err := q.validate(name); err != nil {
			return err
		}
	}
	if err := p.IMA.validate(); err != nil {
		return err
	}
	if len(p.Build.Argv) == 0 {
		return fieldErr("build.argv", ErrRequired, "")
	}
	if p.BootLog != nil {
		if err := p.BootLog.validate(); err != nil {
			return err
		}
	}
	return nil
}

// validateTPMAndAK checks the members a build's and a baseline's
// predicates share: tpm.mode and the attestation key.
func validateTPMAndAK(t *TPM, ak *AttestationKey) error {
	switch t.Mode {
	case ModeDevice, ModeSwtpm, ModeSim:
	case "":
		return fieldErr("tpm.mode", ErrRequired, "")
	default:
		return fieldErr("tpm.mode", ErrInvalid, "%q is not one of device, swtpm, sim", t.Mode)
	}
	if ak.PublicKeyPEM == "" {
		return fieldErr("attestationKey.publicKeyPem", ErrRequired, "")
	}
	if len(ak.TPMTPublic) == 0 {
		return fieldErr("attestationKey.tpmtPublic", ErrRequired, "")
	}
	if len(ak.Certificates) > 8 {
		return fieldErr("attestationKey.certificates", ErrInvalid, "%d certificates, at most 8", len(ak.Certificates))
	}
	return nil
}

func (q *Quote) validate(field string) error {
	if len(q.Attest) == 0 {
		return fieldErr(field+".attest", ErrRequired, "")
	}
	if len(q.Signature) == 0 {
		return fieldErr(field+".signature", ErrRequired, "")
	}
	if len(q.PCRs) == 0 {
		return fieldErr(field+".pcrs", ErrRequired, "")
	}
	for i, v := range q.PCRs {
		f := fmt.Sprintf("%s.pcrs[%d]", field, i)
		if v.Bank == "" {
			return fieldErr(f+".bank", ErrRequired, "")
		}
		if v.Index < 0 || v.Index > 23 {
			return fieldErr(f+".index", ErrInvalid, "PCR index %d outside 0-23", v.Index)
		}
		if b, err := hex.DecodeString(v.Value); err != nil || len(b) == 0 {
			return fieldErr(f+".value", ErrInvalid, "want hex, found %q", v.Value)
		}
	}
	return nil
}

func (m *IMA) validate() error {
	if !m.Present {
		if m.Reason == "" {
			return fieldErr("ima.reason", ErrRequired, "an absent IMA log needs a reason")
		}
		if m.Log != nil || m.Window != nil || m.Baseline != nil {
			return fieldErr("ima.present", ErrInvalid, "false, but a log, window or baseline is given")
		}
		return nil
	}
	if m.Bank == "" {
		return fieldErr("ima.bank", ErrRequired, "")
	}
	if m.Log == nil {
		return fieldErr("ima.log", ErrRequired, "")
	}
	if !slices.Contains(IMALogEncodings(), m.Log.Encoding) {
		return fieldErr("ima.log.encoding", ErrInvalid, "want %q, found %q", strings.Join(IMALogEncodings(), `" or "`), m.Log.Encoding)
	}
	switch {
	case m.Log.Detached && len(m.Log.Data) != 0:
		return fieldErr("ima.log.data", ErrInvalid, "a detached log carries no data")
	case !m.Log.Detached && len(m.Log.Data) == 0:
		return fieldErr("ima.log.data", ErrRequired, "")
	}
	if m.Window == nil {
		return fieldErr("ima.window", ErrRequired, "")
	}
	w := m.Window
	if m.Log.First < 0 || m.Log.Entries < 0 {
		return fieldErr("ima.log", ErrInvalid, "negative first (%d) or entries (%d)", m.Log.First, m.Log.Entries)
	}
	if last := m.Log.First + m.Log.Entries; w.Start < 0 || w.End < w.Start || w.End > last {
		return fieldErr("ima.window", ErrInvalid, "want 0 <= start <= end <= log first + entries (%d), found [%d, %d)", last, w.Start, w.End)
	}
	if m.Baseline == nil {
		if m.Log.First != 0 {
			return fieldErr("ima.log.first", ErrInvalid, "a log without ima.baseline begins at entry 0, found %d", m.Log.First)
		}
		return nil
	}
	return m.Baseline.validate(m)
}
