// Package evidence reads and replays Linux IMA measurement logs.
//
// NewReader streams a log (binary_runtime_measurements, its per-bank and
// big-endian variants, ascii_runtime_measurements, or gzip or zstd of any), one
// Entry at a time. Replay computes a PCR of one bank from the log by the
// kernel's rules; MatchPrefix and MatchPrefixes find how many leading
// entries a quoted PCR value covers. docs/ima.md gives the rules.
//
// Trust: nothing read from a log is trusted. A replayed value means
// something only once it equals a PCR value taken from a TPM quote whose
// signature, attestation key and nonce the caller has already verified
// (package tpm); then the entries of the matched prefix are those the TPM
// measured. Callers must also refuse a replay with template hash mismatches
// (Result.Mismatches; MatchPrefix refuses them itself) and should bound work
// with WithMaxEntries for logs from the network.
package evidence
