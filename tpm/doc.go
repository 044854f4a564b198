// Package tpm opens TPMs, manages attestation keys, takes quotes and verifies
// them without a TPM.
//
// The TPM side (Open, EnsureAK, Quote, Info) talks to a TPM 2.0 through a
// one-method transport (go-tpm's transport.TPM): a kernel device
// (/dev/tpmrm0), a swtpm unix socket, or go-tpm-tools' in-process simulator
// (build tag "simulator", cgo). Transient responses (RETRY, YIELDED, TESTING)
// are retried a bounded number of times by that transport.
//
// The verifier side (VerifyQuote, ParseAKPublic, ParseAKPEM) needs no TPM.
// VerifyQuote checks the signature over the raw TPMS_ATTEST bytes first, then
// decodes them; trusted data comes only out of its *VerifiedQuote.
package tpm
