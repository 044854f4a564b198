package tpm

import "errors"

// ErrSimulatorUnavailable is returned by Open("sim") in a binary built without
// the "simulator" build tag or without cgo.
var ErrSimulatorUnavailable = errors.New("this attest-build was built without the TPM simulator (build with cgo and -tags simulator, or use --tpm swtpm:PATH or a TPM device)")
