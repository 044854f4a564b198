package provenance_test

import (
	"errors"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/tpm"
)

// TestSimulatorBuiltIn: the tamper matrix and the other simulator tests
// live behind the build tag `simulator && cgo` and vanish without it. This
// untagged test makes that loud: skipped locally, a failure under CI
// (realtest.Missing) when the test binary has no simulator.
func TestSimulatorBuiltIn(t *testing.T) {
	tp, err := tpm.Open("sim")
	if errors.Is(err, tpm.ErrSimulatorUnavailable) {
		realtest.Missing(t, "TPM simulator (the simulator-tagged verify tests, tamper matrix included, did not run)", "run the tests with cgo and -tags simulator")
	}
	if err != nil {
		t.Fatalf("Open(sim): %v", err)
	}
	if err := tp.Close(); err != nil {
		t.Fatalf("closing the simulator: %v", err)
	}
}
