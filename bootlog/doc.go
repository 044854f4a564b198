// Package bootlog reads the TCG firmware event log (Linux's
// /sys/kernel/security/tpm0/binary_bios_measurements), replays it to the
// boot PCRs 0-9 and extracts the boot state it records: Secure Boot, the
// PK/KEK/db/dbx variables, the authorities that verified boot applications,
// the boot applications themselves (shim, grub, kernel), the kernel command
// line and the initrd.
//
// Parsing and per-bank replay use go-attestation's attest.ParseEventLog and
// (*attest.EventLog).Verify, and the Secure Boot variables its
// attest.ParseSecurebootState; this package adds what a build verifier needs
// on top: every selected bank must replay (go-attestation accepts a PCR when
// one bank does), a PCR with no events must hold its reset value
// (go-attestation accepts any value then), a mismatch names the bank and the
// PCR with the quoted and replayed values, and the quirks of the firmware the
// project meets (OVMF's direct-boot kernel event before "Calling EFI
// Application", SeaBIOS's 0xFFFFFFFF separators, Secure Boot on with a kernel
// that no verified loader loaded).
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
