// Package policy is the verifier's trust policy: the model (trusted signer
// and attestation keys, builder ids, TPM modes, golden PCRs, maximum age,
// IMA rules), loading it from YAML with errors that name the line and field
// (LoadPolicy, ParsePolicy, PolicyError), importing Keylime runtime
// policies, applying the IMA rules to log entries (IMARules.NewEvaluation),
// and writing a starting policy from a verified reference (FromReference,
// behind attest-build policy init).
//
// A Policy's settings are unexported and read through accessors: it comes
// only from LoadPolicy or ParsePolicy, which check every field.
//
// It is not for verifying attestations (package provenance/verify, which
// reads a Policy) and imports neither verify nor the build side
// (provenance); it depends only on predicates, evidence and tpm.
package policy
