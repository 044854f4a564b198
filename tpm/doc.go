// Package tpm opens TPMs, manages attestation keys, takes quotes and verifies them without a TPM.
package tpm
