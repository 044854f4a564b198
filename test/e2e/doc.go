// Package e2e holds attest-build's end-to-end test on a real kernel: Debian's
// own kernel with IMA, booted under QEMU (TCG) with swtpm as its TPM, runs a
// small real build inside under attest-build; the artifact and attestation it
// carries out are verified on the host with attest-build verify and checked
// with independent tools (tpm2_checkquote, evmctl).
//
// The VM machinery is the script e2e.sh (see its header); e2e_test.go drives
// it. docs/e2e.md says what the test proves, how to run it and how long it
// takes. The package has no exported API.
package e2e
