// Package provtest holds the test helpers the provenance packages' tests
// share: synthetic IMA records and growing logs, signer keys, reading back
// an attestation, a TPM rig (swtpm or, with the simulator tag, the
// in-process simulator) whose PCR 10 the tests extend, and a minimal
// policy. It is imported by tests only, never by the product.
package provtest
