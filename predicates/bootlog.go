package predicates

import (
	"encoding/hex"
)

// BootLogEncoding is the encoding of BootLog.Data: the firmware's TCG event
// log (Linux's binary_bios_measurements) as one zstd stream (RFC 8878),
// like the IMA log.
const BootLogEncoding = "binary_bios_measurements+zstd"

// BootLog is the firmware's TCG event log (measured boot: PCRs 0-9), carried
// so that a verifier can replay it to both quotes and read the boot state.
// The field is optional in v0.1: attestations made before it have none.
type BootLog struct {
	// Present is false when no log was carried; Reason says why (no log on
	// the machine, quotes without PCRs 0-9, a log that does not replay to
	// them).
	Present bool   `json:"present"`
	Reason  string `json:"reason,omitempty"`
	// Encoding is BootLogEncoding.
	Encoding string `json:"encoding,omitempty"`
	// Events is the number of events in the log (the Spec ID event not
	// counted); SHA256 is the hex SHA-256 of the uncompressed log.
	Events int    `json:"events,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Data   []byte `json:"data,omitempty"`
}

func (b *BootLog) validate() error {
	if !b.Present {
		if b.Reason == "" {
			return fieldErr("bootLog.reason", ErrRequired, "an absent boot log needs a reason")
		}
		if len(b.Data) != 0 || b.Encoding != "" {
			return fieldErr("bootLog.present", ErrInvalid, "false, but a log is given")
		}
		return nil
	}
	if b.Encoding != BootLogEncoding {
		return fieldErr("bootLog.encoding", ErrInvalid, "want %q, found %q", BootLogEncoding, b.Encoding)
	}
	if len(b.Data) == 0 {
		return fieldErr("bootLog.data", ErrRequired, "")
	}
	if s, err := hex.DecodeString(b.SHA256); err != nil || len(s) != 32 {
		return fieldErr("bootLog.sha256", ErrInvalid, "want 64 hex digits, found %q", b.SHA256)
	}
	return nil
}
