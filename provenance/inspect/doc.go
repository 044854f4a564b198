// Package inspect decodes an attestation file for display without
// verifying anything: Inspect returns a Summary of each envelope's
// statement (subjects, the TPM/IMA predicate's quotes and IMA window, the
// SLSA provenance) within size limits, and Summary.WriteText renders it for
// people (JSON through the struct tags). Every value in a Summary is as the
// file claims it (InspectNotice says so to users).
//
// It is not for deciding whether to trust an attestation: that is package
// provenance/verify.
package inspect
