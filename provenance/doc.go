// Package provenance is the attesting side: it runs a build, collects its
// evidence (TPM quotes before and after, the IMA log since boot), builds the
// in-toto statements (the TPM/IMA predicate and SLSA provenance v1), signs
// them as DSSE envelopes and writes the .intoto.jsonl file. Attest is the
// entry point; keys, subjects and the TPM session are its parts.
//
// It is not for reading attestations: verifying them against a trust policy
// is package provenance/verify, the policy itself is provenance/policy, and
// an unverified look at a file is provenance/inspect. Nothing here imports
// those packages.
package provenance
