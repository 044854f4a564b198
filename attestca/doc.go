// Package attestca is an attestation CA: it enrolls a TPM's attestation key
// (AK) by credential activation and issues it an X.509 certificate, so that
// verifiers trust one CA instead of a list of per-runner keys.
//
// The protocol (TCG "credential activation", as Keylime's registrar and
// go-attestation run it) is three messages, which travel as files or over
// HTTP (Server, Enroll):
//
//  1. Request (runner, NewRequest): the TPM's EK certificates as read from
//     NV, the EK's TPMT_PUBLIC, and the AK's TPMT_PUBLIC.
//  2. Challenge (CA, (*CA).Challenge): the CA verifies the EK against its
//     trusted manufacturer CAs (ekcert.Trust) and the AK's attributes, then
//     computes TPM2_MakeCredential for that EK, bound to the AK's name, over
//     a fresh 32-byte secret. It keeps the secret's hash in the CA folder,
//     for one use, until an expiry.
//  3. Response (runner, Activate): TPM2_ActivateCredential. Only the TPM that
//     holds that EK and an object with exactly that name recovers the
//     secret.
//
// (*CA).Issue checks the response against the pending challenge (consumed
// on first use, whatever the outcome) and issues the AK certificate: the AK
// public key, the EK's fingerprint (subject serialNumber), the TPM's
// manufacturer, model and version from the EK certificate (subjectAltName
// directoryName, TCG attributes), the class of EK anchor the TPM was
// enrolled under (a certificate policy: PolicyHardwareEK or
// PolicySoftwareEK), a validity period, digitalSignature key usage and the
// TCG AK certificate extended key usage.
//
// Verifiers check AK certificates with VerifyAKCertificate. Cloud vTPMs
// whose AK certificate the cloud provisions (GCE, Azure) are read with
// ReadCloudAKCertificate.
package attestca
