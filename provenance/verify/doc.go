// Package verify checks an attestation against a trust policy: NewVerifier
// validates the policy and options once, and Verifier.Verify runs the
// ordered checks (envelope, signature, statement, subjects, builder,
// predicate, TPM mode, attestation key, quote signature, nonce, PCR
// digest, same boot, IMA log, IMA replay, golden PCRs, IMA rules, max age;
// see AllChecks) and returns a Report. A failed check is a *CheckError
// (errors.Is ErrVerification) naming the check with expected and found
// values; nothing in the attestation is trusted before the check that
// covers it passes. InitPolicy reads a known-good attestation the same way
// and writes a starting policy from it (policy.FromReference).
//
// The report types (Report, CheckResult, Facts, VerifyOutput) carry JSON
// tags for the CLI's --json output; text rendering is the CLI's.
//
// It is not for making attestations (package provenance) nor for the
// policy's model and loading (package provenance/policy, which it imports).
package verify
