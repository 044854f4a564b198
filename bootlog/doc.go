// Package bootlog reads the TCG firmware event log (Linux's
// /sys/kernel/security/tpm0/binary_bios_measurements), replays it to the
// boot PCRs 0-9 and extracts the boot state it records: Secure Boot, the
// PK/KEK/db/dbx variables, the authorities that verified boot applications,
// the boot applications themselves (shim, grub, kernel), the kernel command
// line and the initrd.
//
// Parsing uses go-attestation's attest.ParseEventLog, and the Secure Boot
// keys and authorities its attest.ParseSecurebootState. The replay is this
// package's, because a build verifier needs more than
// (*attest.EventLog).Verify gives: every quoted bank must replay
// (go-attestation accepts a PCR when one bank does), a PCR with no events
// must hold its reset value (go-attestation accepts any value then), and a
// mismatch names the bank and the PCR with the quoted and replayed values.
// It also handles the quirks of the firmware the project meets: OVMF's
// direct-boot kernel event before "Calling EFI Application from Boot
// Option", SeaBIOS's 0xFFFFFFFF separators (go-attestation's Secure Boot
// parser refuses them; a legacy BIOS has no Secure Boot), and Secure Boot on
// with a kernel that no verified loader loaded (never counted as verified).
//
// Trust: nothing read from a log is trusted. Parse returns an unverified
// *Log. (*Log).Verify replays it against PCR values that the caller has
// taken from a TPM quote whose signature, attestation key and nonce it has
// already verified (package tpm); only then does it return a *State, built
// from the replayed events alone. Facts in a State are bound to the PCRs
// unless their doc says otherwise: the order of events within one PCR and
// each event's digest are bound, the data of an event is bound only where it
// hashes to the digest (Secure Boot variables, grub's commands and kernel
// command line); the order of events across PCRs and the file paths grub
// logs in PCR 9 are not.
package bootlog
