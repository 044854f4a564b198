package predicates

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// BaselineType is the predicateType of an IMA baseline statement: a quote
// and the IMA log up to it, made once per boot (attest-build baseline), so
// that later attestations carry only the entries after it (IMA.Baseline).
const BaselineType = "https://github.com/attest-build/attest-build/predicates/tpm-ima-baseline/v0.1"

// BaselineFileSuffix ends the name of a baseline file in a baseline
// directory (attest-build --baseline-dir; verify --baseline DIR).
const BaselineFileSuffix = ".baseline.intoto.jsonl"

// BaselineSubject is the name of a baseline statement's only subject: the
// carried log, by the SHA-256 of its uncompressed bytes.
const BaselineSubject = "ima-log"

// Baseline is the predicate of a baseline statement. The quote's
// qualifyingData is Nonce, random: a baseline is bound to no artifact. Its
// log holds every entry from boot up to the quote (IMA.Log.Entries of
// them, the first the boot_aggregate) and replays to the quote's PCR 10;
// or, for a baseline that continues another (IMA.Previous: a chain of
// baselines, one per build on a long-running runner), the entries from the
// previous baseline's position up to the quote, replaying from its PCR 10.
type Baseline struct {
	TPM            TPM            `json:"tpm"`
	AttestationKey AttestationKey `json:"attestationKey"`
	// Nonce is the quote's random qualifyingData, hex.
	Nonce string      `json:"nonce"`
	Quote Quote       `json:"quote"`
	IMA   BaselineIMA `json:"ima"`
	// CreatedOn is when the baseline was made (the signer's word).
	CreatedOn time.Time `json:"createdOn"`
}

// BaselineIMA is a baseline's log: PCR 10 of Bank after Log.Entries entries
// is the quote's value.
type BaselineIMA struct {
	PCR      int    `json:"pcr"`
	Bank     string `json:"bank"`
	Template string `json:"template"`
	// LogBytes is the byte offset in the kernel's log at which a later
	// build's entries begin: the length of the uncompressed log, plus the
	// previous baseline's LogBytes when there is one.
	LogBytes int64  `json:"logBytes"`
	Log      IMALog `json:"log"`
	// Previous is the baseline this one continues (Log.First is its
	// position), or nil for a baseline whose log begins at boot.
	Previous *IMABaseline `json:"previous,omitempty"`
}

// Position is the number of entries in the kernel's log up to the
// baseline's quote.
func (b *Baseline) Position() int { return b.IMA.Log.First + b.IMA.Log.Entries }

// IMABaseline names the baseline an attestation's log continues (ima.log
// then holds only the entries from Entries on, and ima.log.first is
// Entries).
type IMABaseline struct {
	// Digest is "sha256:" and the hex SHA-256 of the baseline statement
	// (its DSSE payload, as signed).
	Digest string `json:"digest"`
	// Entries is the baseline's position: the number of entries its log
	// holds.
	Entries int `json:"entries"`
	// PCRValue is PCR 10 of ima.bank after Entries entries (hex): the
	// baseline quote's value, from which the carried entries replay.
	PCRValue string `json:"pcrValue"`
}

// Validate checks the baseline predicate's fields for presence and form;
// the verifier checks the rest.
func (b *Baseline) Validate() error {
	if err := validateTPMAndAK(&b.TPM, &b.AttestationKey); err != nil {
		return err
	}
	if n, err := hex.DecodeString(b.Nonce); err != nil || len(n) == 0 || len(n) > 32 {
		return fieldErr("nonce", ErrInvalid, "want 1 to 32 bytes of hex, found %q", b.Nonce)
	}
	if err := b.Quote.validate("quote"); err != nil {
		return err
	}
	m := &b.IMA
	if !slices.Contains(imaBanks, m.Bank) {
		return fieldErr("ima.bank", ErrInvalid, "%q is not one of %s", m.Bank, strings.Join(imaBanks, ", "))
	}
	if m.PCR != 10 {
		return fieldErr("ima.pcr", ErrInvalid, "want 10, found %d", m.PCR)
	}
	if !slices.Contains(IMALogEncodings(), m.Log.Encoding) {
		return fieldErr("ima.log.encoding", ErrInvalid, "want %q, found %q", strings.Join(IMALogEncodings(), `" or "`), m.Log.Encoding)
	}
	if m.Log.Detached {
		return fieldErr("ima.log.detached", ErrInvalid, "a baseline carries its log")
	}
	if p := m.Previous; p != nil {
		if err := p.validateRef("ima.previous"); err != nil {
			return err
		}
		if m.Log.First != p.Entries || m.Log.Entries < 0 || len(m.Log.Data) == 0 {
			return fieldErr("ima.log", ErrInvalid, "want the entries from the previous baseline's position %d, found first %d, %d entries", p.Entries, m.Log.First, m.Log.Entries)
		}
	} else if m.Log.First != 0 || m.Log.Entries < 1 || len(m.Log.Data) == 0 || m.LogBytes <= 0 {
		return fieldErr("ima.log", ErrInvalid, "a baseline without a previous one carries the log from entry 0, the boot_aggregate, on")
	}
	if _, err := hex.DecodeString(m.Log.SHA256); err != nil || len(m.Log.SHA256) != 64 {
		return fieldErr("ima.log.sha256", ErrInvalid, "want 64 hex digits, found %q", m.Log.SHA256)
	}
	return nil
}

var imaBanks = []string{"sha1", "sha256", "sha384", "sha512"}

func (b *IMABaseline) validateRef(field string) error {
	d, ok := strings.CutPrefix(b.Digest, "sha256:")
	if raw, err := hex.DecodeString(d); !ok || err != nil || len(raw) != 32 {
		return fieldErr(field+".digest", ErrInvalid, "want sha256: and 64 hex digits, found %q", b.Digest)
	}
	if b.Entries < 1 {
		return fieldErr(field+".entries", ErrInvalid, "want at least 1 (the boot_aggregate), found %d", b.Entries)
	}
	if v, err := hex.DecodeString(b.PCRValue); err != nil || len(v) == 0 {
		return fieldErr(field+".pcrValue", ErrInvalid, "want hex, found %q", b.PCRValue)
	}
	return nil
}

func (b *IMABaseline) validate(m *IMA) error {
	if err := b.validateRef("ima.baseline"); err != nil {
		return err
	}
	if m.Log.First != b.Entries {
		return fieldErr("ima.log.first", ErrInvalid, "want the baseline's position %d, found %d", b.Entries, m.Log.First)
	}
	if len(m.Window.Entries) > 0 {
		return fieldErr("ima.window.entries", ErrInvalid, "an attestation that continues a baseline carries no decoded window entries (readers decode ima.log)")
	}
	if m.Window.Start < b.Entries {
		return fieldErr("ima.window.start", ErrInvalid, "want at least the baseline's position %d, found %d", b.Entries, m.Window.Start)
	}
	return nil
}

// String describes the baseline reference for messages.
func (b *IMABaseline) String() string {
	return fmt.Sprintf("%s at entry %d (PCR 10 %s)", b.Digest, b.Entries, b.PCRValue)
}
